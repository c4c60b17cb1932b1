import { describe, expect, inject, it } from 'vitest';
import { startChildServer } from '../support/child-server.js';
import {
  ok,
  settle,
  startTestServer,
  subscribeWs,
  tokenFor,
  uniquePrefix,
  user,
  wsClient,
} from '../support/harness.js';
import { conversationEvents, createConversation, openTab, people, PRESENCE_EVENTS, TYPING } from './support.js';

const HEARTBEAT_MS = 500;
const LAPSE_MS = 2_000;
const FAST_PRESENCE = { PRESENCE_HEARTBEAT_MS: String(HEARTBEAT_MS), PRESENCE_LAPSE_MS: String(LAPSE_MS) };

describe('an instance killed without closing anything', () => {
  it('has its users (of every organisation) marked offline by a survivor within the lapse, and its typists lapse once', async () => {
    const prefix = uniquePrefix();
    const survivor = await startTestServer({ backend: 'redis', prefix, env: FAST_PRESENCE });
    const doomed = await startChildServer({ redisUrl: inject('redisUrl'), prefix, env: FAST_PRESENCE });
    const t = await people();
    const { id } = await createConversation(survivor, t.alice, ['bob']);
    const presence = await subscribeWs(survivor, wsClient(survivor, t.bob), PRESENCE_EVENTS, { userIds: ['alice'] });
    const events = await conversationEvents(survivor, t.bob, id);
    // A user of another organisation (its presence in another scope) online through the doomed instance too.
    const dave = await tokenFor(user('dave', ['agent'], 'org-b'));
    const erin = await tokenFor(user('erin', ['agent'], 'org-b'));
    const davePresence = await subscribeWs(survivor, wsClient(survivor, erin), PRESENCE_EVENTS, { userIds: ['dave'] });
    await openTab(doomed, dave);
    await davePresence.waitForEvents(1);
    expect(davePresence.events[0]).toMatchObject({ userId: 'dave', online: true });

    // Alice is online through the doomed instance only, and starts typing there.
    await openTab(doomed, t.alice);
    await presence.waitForEvents(1);
    expect(presence.events[0]).toMatchObject({ userId: 'alice', online: true });
    await ok(doomed, TYPING, { id, isTyping: true }, t.alice);
    const typedAt = Date.now();
    await events.waitForEvents(1);

    await doomed.kill();
    const killedAt = Date.now();
    await presence.waitForEvents(2, 10_000);
    // The configured bound (the contract's 60 s in production): lapse plus one sweep interval.
    expect(Date.now() - killedAt).toBeLessThan(LAPSE_MS + HEARTBEAT_MS + 1_000);
    expect(presence.events[1]).toMatchObject({ userId: 'alice', online: false });
    await davePresence.waitForEvents(2, 10_000);
    expect(davePresence.events[1]).toMatchObject({ userId: 'dave', online: false });

    await events.waitForEvents(2, 10_000);
    expect(Date.now() - typedAt).toBeLessThan(6_000);
    await settle(600);
    expect(presence.events.map((event) => event.online)).toEqual([true, false]);
    expect(davePresence.events.map((event) => event.online)).toEqual([true, false]);
    expect(events.events.map(({ __typename, userId, isTyping }) => ({ __typename, userId, isTyping }))).toEqual([
      { __typename: 'TypingChanged', userId: 'alice', isTyping: true },
      { __typename: 'TypingChanged', userId: 'alice', isTyping: false },
    ]);
  });
});

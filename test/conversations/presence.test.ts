import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import {
  BACKENDS,
  dispose,
  ok,
  settle,
  startCluster,
  startTestServer,
  subscribeWs,
  tokenFor,
  user,
  wsClient,
} from '../support/harness.js';
import { openTab, people, PRESENCE, PRESENCE_EVENTS } from './support.js';

/** Fast presence, so a lapse fits a test: a dead instance's users go offline within 2.5 s. */
const FAST_PRESENCE = { PRESENCE_HEARTBEAT_MS: '500', PRESENCE_LAPSE_MS: '2000' };

const online = (userId: string, isOnline: boolean) => ({ __typename: 'PresenceChanged', userId, online: isOnline });
const transitions = (
  events: { __typename: string; userId: string; online: boolean; lastSeenAt: string; occurredAt: string }[],
) =>
  events.map(({ lastSeenAt, occurredAt, ...rest }) => {
    expect(new Date(lastSeenAt).toISOString()).toBe(lastSeenAt);
    expect(new Date(occurredAt).toISOString()).toBe(occurredAt);
    return rest;
  });

describe.each(BACKENDS)('presence on the %s backend', (backend) => {
  it('reports transitions only: a second tab changes nothing, the last tab closing goes offline', async () => {
    const server = await startTestServer({ backend, env: FAST_PRESENCE });
    const t = await people();
    const watching = await subscribeWs(server, wsClient(server, t.carol), PRESENCE_EVENTS, {
      userIds: ['alice', 'bob'],
    });
    const presence = async () => (await ok(server, PRESENCE, { userIds: ['alice', 'bob'] }, t.carol)).presence;
    expect(await presence()).toEqual([
      { userId: 'alice', online: false, lastSeenAt: null },
      { userId: 'bob', online: false, lastSeenAt: null },
    ]);

    const tab1 = await openTab(server, t.alice);
    await watching.waitForEvents(1);
    const tab2 = await openTab(server, t.alice);
    await settle(200);
    expect((await presence())[0]).toMatchObject({ userId: 'alice', online: true });
    await tab1.dispose();
    await settle(200);
    expect((await presence())[0]).toMatchObject({ userId: 'alice', online: true });
    await tab2.dispose();
    await watching.waitForEvents(2);
    await settle(200);
    expect(transitions(watching.events)).toEqual([online('alice', true), online('alice', false)]);
    const [alice] = await presence();
    expect(alice).toMatchObject({ online: false, lastSeenAt: watching.events[1].lastSeenAt });
  });

  it('counts an open SSE stream as a connection, alongside WebSockets', async () => {
    const server = await startTestServer({ backend, env: FAST_PRESENCE });
    const t = await people();
    const watching = await subscribeWs(server, wsClient(server, t.carol), PRESENCE_EVENTS, { userIds: ['alice'] });
    const stream = await fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${t.alice}` },
      body: JSON.stringify({ query: 'subscription { inboxEvents { __typename } }' }),
    });
    expect(stream.status).toBe(200);
    await watching.waitForEvents(1);
    const tab = await openTab(server, t.alice);
    await stream.body!.cancel();
    await settle(300);
    expect(watching.events).toHaveLength(1);
    await tab.dispose();
    await watching.waitForEvents(2);
    expect(transitions(watching.events)).toEqual([online('alice', true), online('alice', false)]);
  });

  it('shows presence to the same organisation only', async () => {
    const server = await startTestServer({ backend, env: FAST_PRESENCE });
    const t = await people();
    const ownOrg = await subscribeWs(server, wsClient(server, t.carol), PRESENCE_EVENTS, { userIds: ['alice'] });
    const otherOrg = await subscribeWs(server, wsClient(server, t.stranger), PRESENCE_EVENTS, { userIds: ['alice'] });
    // Another organisation's user with the same id is someone else.
    const namesake = await openTab(server, await tokenFor(user('alice', ['agent'], 'org-b')));
    await otherOrg.waitForEvents(1);
    await openTab(server, t.alice);
    await ownOrg.waitForEvents(1);
    await namesake.dispose();
    await otherOrg.waitForEvents(2);
    await settle(200);
    expect(transitions(ownOrg.events)).toEqual([online('alice', true)]);
    expect(transitions(otherOrg.events)).toEqual([online('alice', true), online('alice', false)]);
    const seenByStranger = (await ok(server, PRESENCE, { userIds: ['alice'] }, t.stranger)).presence;
    expect(seenByStranger).toMatchObject([{ userId: 'alice', online: false }]);
  });

  it('goes offline when the server closes the connection, as on token expiry', async () => {
    const server = await startTestServer({ backend, env: FAST_PRESENCE });
    const t = await people();
    const watching = await subscribeWs(server, wsClient(server, t.carol), PRESENCE_EVENTS, { userIds: ['alice'] });
    const shortLived = await tokenFor(user('alice'), Math.floor(Date.now() / 1000) + 2);
    const tab = await openTab(server, shortLived);
    let closeCode: number | undefined;
    tab.on('closed', (event) => (closeCode = (event as { code: number }).code));
    await watching.waitForEvents(2, 5_000);
    expect(closeCode).toBe(4403);
    expect(transitions(watching.events)).toEqual([online('alice', true), online('alice', false)]);
  });
});

describe('presence across instances', () => {
  it('is one state across instances: tabs on two instances, transitions once, seen on both', async () => {
    const [a, b] = await startCluster(2, FAST_PRESENCE);
    const t = await people();
    const onA = await subscribeWs(a!, wsClient(a!, t.carol), PRESENCE_EVENTS, { userIds: ['alice'] });
    const onB = await subscribeWs(b!, wsClient(b!, t.bob), PRESENCE_EVENTS, { userIds: ['alice'] });
    const tabOnA = await openTab(a!, t.alice);
    await onB.waitForEvents(1);
    const tabOnB = await openTab(b!, t.alice);
    await settle(200);
    await tabOnA.dispose();
    await settle(200);
    expect((await ok(b!, PRESENCE, { userIds: ['alice'] }, t.bob)).presence[0].online).toBe(true);
    await tabOnB.dispose();
    for (const subscription of [onA, onB]) await subscription.waitForEvents(2);
    await settle(200);
    expect(transitions(onA.events)).toEqual([online('alice', true), online('alice', false)]);
    expect(transitions(onB.events)).toEqual([online('alice', true), online('alice', false)]);
  });

  it('drops a transition that arrives after a later one (instances publish independently)', async () => {
    const [a] = await startCluster(1, FAST_PRESENCE);
    const t = await people();
    const watching = await subscribeWs(a!, wsClient(a!, t.carol), PRESENCE_EVENTS, { userIds: ['alice'] });
    const tab = await openTab(a!, t.alice);
    await watching.waitForEvents(1);
    await tab.dispose();
    await watching.waitForEvents(2);
    // A slow instance's "online" from before the "offline", reaching Redis late.
    const redis = new Redis(inject('redisUrl'));
    dispose(() => redis.quit());
    const stale = {
      __typename: 'PresenceChanged',
      userId: 'alice',
      online: true,
      lastSeenAt: new Date().toISOString(),
      occurredAt: new Date().toISOString(),
      flip: 1,
    };
    await redis.publish(`${a!.config.redisPrefix}{o:org-a}org:org-a:presence:alice`, JSON.stringify(stale));
    const fresh = { ...stale, online: false, flip: 3 };
    await redis.publish(`${a!.config.redisPrefix}{o:org-a}org:org-a:presence:alice`, JSON.stringify(fresh));
    await settle(300);
    await watching.waitForEvents(3);
    await settle(100);
    expect(watching.events.map((event) => event.online)).toEqual([true, false, false]);
  });
});

describe('presence configuration', () => {
  const base = { JWT_SECRET: 'x'.repeat(32) };
  it('defaults to a heartbeat every 10 s and a 30 s lapse, within the 60 s bound', () => {
    expect(loadConfig(base).presence).toEqual({ heartbeatMs: 10_000, lapseMs: 30_000 });
    expect(loadConfig({ ...base, ...FAST_PRESENCE }).presence).toEqual({ heartbeatMs: 500, lapseMs: 2_000 });
  });

  it('refuses settings that could leave a dead instance\u2019s users online past 60 s, or flap', () => {
    for (const [env, message] of [
      [{ PRESENCE_LAPSE_MS: '45000', PRESENCE_HEARTBEAT_MS: '20000' }, /must not exceed 60000/],
      [{ PRESENCE_LAPSE_MS: '1000', PRESENCE_HEARTBEAT_MS: '600' }, /at least twice PRESENCE_HEARTBEAT_MS/],
      [{ PRESENCE_LAPSE_MS: '60000' }, /^PRESENCE_LAPSE_MS .*59000/],
      [{ PRESENCE_HEARTBEAT_MS: 'soon' }, /^PRESENCE_HEARTBEAT_MS must be a whole number/],
    ] as const) {
      expect(() => loadConfig({ ...base, ...env })).toThrow(ConfigError);
      expect(() => loadConfig({ ...base, ...env })).toThrow(message);
    }
  });
});

import { describe, expect, it } from 'vitest';
import { BACKENDS, ok, settle, startCluster, startTestServer } from '../support/harness.js';
import { conversationEvents, createConversation, expectExactly, people, TYPING } from './support.js';

const typing = (userId: string, isTyping: boolean) => ({ __typename: 'TypingChanged', userId, isTyping });

describe.each(BACKENDS)('typing on the %s backend', (backend) => {
  it('keeps typing while renewed, then lapses 5 s after the last renewal, published once', async () => {
    const server = await startTestServer({ backend });
    const t = await people();
    const { id } = await createConversation(server, t.alice, ['bob']);
    const bobEvents = await conversationEvents(server, t.bob, id);
    const aliceEvents = await conversationEvents(server, t.alice, id);

    expect((await ok(server, TYPING, { id, isTyping: true }, t.alice)).setTyping).toBe(true);
    await bobEvents.waitForEvents(1);
    await settle(1_000);
    expect((await ok(server, TYPING, { id, isTyping: true }, t.alice)).setTyping).toBe(false);
    const renewedAt = Date.now();
    await bobEvents.waitForEvents(2, 8_000);
    const lapsedAfter = Date.now() - renewedAt;
    expect(lapsedAfter).toBeGreaterThanOrEqual(4_800);
    expect(lapsedAfter).toBeLessThan(6_000);
    await expectExactly(bobEvents, [typing('alice', true), typing('alice', false)], 600);
    // The typist's own subscription hears none of it.
    expect(aliceEvents.events).toEqual([]);
    // Lapsed means stopped: stopping again changes nothing, starting again is news.
    expect((await ok(server, TYPING, { id, isTyping: false }, t.alice)).setTyping).toBe(false);
    expect((await ok(server, TYPING, { id, isTyping: true }, t.alice)).setTyping).toBe(true);
    expect((await ok(server, TYPING, { id, isTyping: false }, t.alice)).setTyping).toBe(true);
    await expectExactly(bobEvents, [
      typing('alice', true),
      typing('alice', false),
      typing('alice', true),
      typing('alice', false),
    ]);
  });
});

describe('typing across instances', () => {
  it('lapses exactly once with several instances sweeping, after the instance that took the call has closed', async () => {
    const [a, b, c] = await startCluster(3);
    const t = await people();
    const { id } = await createConversation(a!, t.alice, ['bob', 'carol']);
    const bobOnB = await conversationEvents(b!, t.bob, id);
    const carolOnC = await conversationEvents(c!, t.carol, id);
    const bobOnC = await conversationEvents(c!, t.bob, id);

    await ok(a!, TYPING, { id, isTyping: true }, t.alice);
    const typedAt = Date.now();
    await a!.server.close();
    for (const subscription of [bobOnB, carolOnC, bobOnC]) await subscription.waitForEvents(2, 8_000);
    expect(Date.now() - typedAt).toBeLessThan(6_000);
    for (const subscription of [bobOnB, carolOnC, bobOnC]) {
      await expectExactly(subscription, [typing('alice', true), typing('alice', false)], 300);
    }
  });
});

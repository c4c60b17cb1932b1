import { describe, expect, it } from 'vitest';
import { BACKENDS, errorCode, gql, ok, startTestServer, subscribeWs, wsClient } from '../support/harness.js';
import { EVENTS, list, MARK_SOME, send, tokens, unreadCount } from './operations.js';

describe.each(BACKENDS)('markAllNotificationsRead is bounded on the %s backend', (backend) => {
  it('marks at most `limit` per call, newest first, each call publishing its own bounded event', async () => {
    const server = await startTestServer({ backend });
    const t = await tokens();
    const sent = [];
    for (let i = 0; i < 12; i++) sent.push(await send(server, t.service, { recipientId: 'alice', title: `N${i}` }));
    const bell = await subscribeWs(server, wsClient(server, t.alice), EVENTS);
    const newestFirst = sent.map((n) => n.id).reverse();

    const counts = [];
    for (;;) {
      const marked = (await ok(server, MARK_SOME, { limit: 5 }, t.alice)).markAllNotificationsRead as number;
      counts.push(marked);
      if (marked < 5) break;
    }
    expect(counts).toEqual([5, 5, 2]);
    expect(await unreadCount(server, t.alice)).toBe(0);
    expect((await list(server, t.alice, { limit: 200 })).every((n) => n.readAt !== null)).toBe(true);

    const events = await bell.waitForEvents(3);
    expect(events.map((event) => event.notificationIds)).toEqual([
      newestFirst.slice(0, 5),
      newestFirst.slice(5, 10),
      newestFirst.slice(10),
    ]);
    // Nothing left: no event, zero.
    expect((await ok(server, MARK_SOME, { limit: 5 }, t.alice)).markAllNotificationsRead).toBe(0);
  });

  it('defaults to 500 per call and refuses a limit outside 1 to 1000', async () => {
    const server = await startTestServer({ backend });
    const t = await tokens();
    for (const limit of [0, 1001, -1]) {
      expect(errorCode(await gql(server, MARK_SOME, { limit }, { token: t.alice }))).toBe('BAD_USER_INPUT');
    }
    await send(server, t.service, { recipientId: 'alice' });
    expect((await ok(server, MARK_SOME, {}, t.alice)).markAllNotificationsRead).toBe(1);
  });
});

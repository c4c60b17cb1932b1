import { describe, expect, it } from 'vitest';
import {
  BACKENDS,
  ok,
  startCluster,
  startTestServer,
  subscribeWs,
  tokenFor,
  user,
  wsClient,
  type Subscription,
} from '../support/harness.js';
import { DELETE, EVENTS, list, MARK_ALL, MARK_READ, send, tokens, unreadCount } from './operations.js';

/** Waits for `count` events and checks that no other event arrived before them; drops `occurredAt` after checking it. */
async function exactly(subscription: Subscription, count: number) {
  const events = await subscription.waitForEvents(count);
  expect(events).toHaveLength(count);
  return events.map(({ occurredAt, ...event }) => {
    expect(new Date(occurredAt).toISOString()).toBe(occurredAt);
    return event;
  });
}

describe.each(BACKENDS)('notification events on the %s backend', (backend) => {
  it('shows a notification bell every event of its own notifications, once, and nobody else\u2019s', async () => {
    const server = await startTestServer({ backend });
    const t = await tokens();
    const bell = await subscribeWs(server, wsClient(server, t.alice), EVENTS);
    const bobsBell = await subscribeWs(server, wsClient(server, t.bob), EVENTS);
    const foreignBell = await subscribeWs(server, wsClient(server, t.foreignAlice), EVENTS);
    const adminBell = await subscribeWs(server, wsClient(server, t.admin), EVENTS);

    const n1 = await send(server, t.admin, { recipientId: 'alice', title: 'One', data: { id: 1 } });
    const n2 = await send(server, t.service, { recipientId: 'alice', title: 'Two' });
    const read = (await ok(server, MARK_READ, n1, t.alice)).markNotificationRead;
    await ok(server, MARK_READ, n1, t.alice);
    expect((await ok(server, MARK_ALL, {}, t.alice)).markAllNotificationsRead).toBe(1);
    expect((await ok(server, MARK_ALL, {}, t.alice)).markAllNotificationsRead).toBe(0);
    const n3 = await send(server, t.admin, { recipientId: 'alice', title: 'Three' });
    await ok(server, DELETE, n3, t.alice);
    await ok(server, DELETE, n1, t.alice);
    const n4 = await send(server, t.admin, { recipientId: 'alice', title: 'Four' });

    // n4 comes right after the deletes: the second mark and the empty mark-all published nothing.
    const events = await exactly(bell, 8);
    expect(events).toEqual([
      { __typename: 'NotificationCreated', notification: n1 },
      { __typename: 'NotificationCreated', notification: n2 },
      { __typename: 'NotificationRead', notificationId: n1.id },
      { __typename: 'NotificationsBulkRead', notificationIds: [n2.id] },
      { __typename: 'NotificationCreated', notification: n3 },
      { __typename: 'NotificationDeleted', notificationId: n3.id, wasUnread: true },
      { __typename: 'NotificationDeleted', notificationId: n1.id, wasUnread: false },
      { __typename: 'NotificationCreated', notification: n4 },
    ]);
    expect(bell.events[2].occurredAt).toBe(read.readAt);
    const bulkReadAt = (await list(server, t.alice)).find((n) => n.id === n2.id)!.readAt;
    expect(bell.events[3].occurredAt).toBe(bulkReadAt);

    // A badge kept from the events alone matches the server's count.
    const badge = events.reduce(
      (count, event) =>
        count +
        (event.__typename === 'NotificationCreated'
          ? 1
          : event.__typename === 'NotificationRead'
            ? -1
            : event.__typename === 'NotificationsBulkRead'
              ? -event.notificationIds.length
              : event.wasUnread
                ? -1
                : 0),
      0,
    );
    expect(badge).toBe(await unreadCount(server, t.alice));
    expect(badge).toBe(1);

    // The other bells saw none of alice's: the first event each gets is its own.
    const forBob = await send(server, t.admin, { recipientId: 'bob' });
    const forForeignAlice = await send(server, t.foreignService, { recipientId: 'alice' });
    const forAdmin = await send(server, t.service, { recipientId: 'admin-1' });
    expect(await exactly(bobsBell, 1)).toEqual([{ __typename: 'NotificationCreated', notification: forBob }]);
    expect(await exactly(foreignBell, 1)).toEqual([
      { __typename: 'NotificationCreated', notification: forForeignAlice },
    ]);
    expect(await exactly(adminBell, 1)).toEqual([{ __typename: 'NotificationCreated', notification: forAdmin }]);
  });

  it('publishes one NotificationsBulkRead listing exactly the notifications it changed', async () => {
    const server = await startTestServer({ backend });
    const t = await tokens();
    const sent = [];
    for (let i = 0; i < 130; i++) sent.push(await send(server, t.service, { recipientId: 'bob', title: `n${i}` }));
    await ok(server, MARK_READ, sent[5]!, t.bob);
    await ok(server, DELETE, sent[6]!, t.bob);
    const bell = await subscribeWs(server, wsClient(server, t.bob), EVENTS);
    expect((await ok(server, MARK_ALL, {}, t.bob)).markAllNotificationsRead).toBe(128);
    const after = await send(server, t.service, { recipientId: 'bob', title: 'after' });
    const events = await exactly(bell, 2);
    expect(events[0]!.__typename).toBe('NotificationsBulkRead');
    expect([...events[0]!.notificationIds].sort()).toEqual(
      sent
        .filter((_, i) => i !== 5 && i !== 6)
        .map((n) => n.id)
        .sort(),
    );
    expect(events[1]).toEqual({ __typename: 'NotificationCreated', notification: after });
    expect(await unreadCount(server, t.bob)).toBe(1);
  });
});

describe('notifications across instances', () => {
  it('reaches a bell on another instance and keeps one unread count when instances race', async () => {
    const [a, b] = await startCluster(2);
    const t = await tokens();
    const bell = await subscribeWs(a!, wsClient(a!, t.alice), EVENTS);

    // 30 sends split over both instances: both count all of them.
    const sent = await Promise.all(
      Array.from({ length: 30 }, (_, i) => send(i % 2 ? a! : b!, t.service, { recipientId: 'alice', title: `n${i}` })),
    );
    expect(await unreadCount(a!, t.alice)).toBe(30);
    expect(await unreadCount(b!, t.alice)).toBe(30);
    await bell.waitForEvents(30);
    expect(new Set(bell.events.map((event) => event.notification.id))).toEqual(new Set(sent.map((n) => n.id)));

    // Every notification marked read on both instances at once, and mark-all on both at once:
    // each notification is read once, by exactly one of the calls, and published once.
    const marks = await Promise.all([
      ...sent.flatMap((n) => [ok(a!, MARK_READ, n, t.alice), ok(b!, MARK_READ, n, t.alice)]),
      ok(a!, MARK_ALL, {}, t.alice),
      ok(b!, MARK_ALL, {}, t.alice),
    ]);
    const readAts = new Map<string, string>();
    for (const mark of marks.slice(0, -2)) {
      const { id, readAt } = mark.markNotificationRead;
      expect(readAt).not.toBeNull();
      if (readAts.has(id)) expect(readAt).toBe(readAts.get(id));
      readAts.set(id, readAt);
    }
    const bulkCounted = marks.slice(-2).reduce((sum, mark) => sum + mark.markAllNotificationsRead, 0);
    expect(await unreadCount(a!, t.alice)).toBe(0);
    expect(await unreadCount(b!, t.alice)).toBe(0);

    // Each id was read by one markNotificationRead (one NotificationRead) or by a mark-all (one
    // NotificationsBulkRead per mark-all that changed anything); the sentinel comes right after them.
    const nonEmptyBulks = marks.slice(-2).filter((mark) => mark.markAllNotificationsRead > 0).length;
    const expected = 30 + (30 - bulkCounted) + nonEmptyBulks + 1;
    const sentinel = await send(b!, t.admin, { recipientId: 'alice', title: 'sentinel' });
    const events = await bell.waitForEvents(expected);
    expect(events[expected - 1]).toMatchObject({ __typename: 'NotificationCreated', notification: sentinel });
    const readEvents = events.slice(30, -1);
    const readIds = readEvents.flatMap((event) =>
      event.__typename === 'NotificationRead' ? [event.notificationId] : event.notificationIds,
    );
    expect([...readIds].sort()).toEqual(sent.map((n) => n.id).sort());
    expect(await unreadCount(a!, t.alice)).toBe(1);

    // A user of the same id in another organisation shares nothing of it.
    const foreignAlice = await tokenFor(user('alice', [], 'org-b'));
    expect(await unreadCount(b!, foreignAlice)).toBe(0);
  });
});

import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { topics } from '../../src/events/topics.js';
import { keySpace } from '../../src/lib/keys.js';
import { BACKENDS, dispose, ok, settle, startCluster, startTestServer, tokenFor, user } from '../support/harness.js';
import { commandCalls, startRedisServer } from '../support/redis-server.js';
import {
  ADD,
  CONVERSATIONS,
  conversationEvents,
  createConversation,
  expectExactly,
  inboxEvents,
  people,
  REMOVE,
  send,
  type ConversationView,
} from './support.js';

const bin = inject('redisServerBin');
const redisUrl = inject('redisUrl');
const ids = (count: number, prefix = 'member') => Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
const idsOf = (list: { id: string }[]) => list.map((conversation) => conversation.id);

describe.each(BACKENDS)('a member’s conversation list, ranked when read, on the %s backend', (backend) => {
  it('orders big rooms by their last message and by when the viewer joined, and pages them exactly', async () => {
    const server = await startTestServer({ backend });
    const t = await people();
    const reader = await tokenFor(user('member-7'));
    const page = async (limit: number, before?: string) =>
      idsOf((await ok(server, CONVERSATIONS, { limit, before }, reader)).conversations as ConversationView[]);
    const rooms: string[] = [];
    for (let i = 0; i < 5; i++) rooms.push((await createConversation(server, t.alice, ids(400), `Room ${i}`)).id);
    expect(await page(500)).toEqual([...rooms].reverse());

    // Messages move a room to the top of all 401 members' lists at once.
    await send(server, t.alice, rooms[1]!, 'one');
    await send(server, await tokenFor(user('member-399')), rooms[3]!, 'three');
    await send(server, t.alice, rooms[1]!, 'one again');
    const byActivity = [rooms[1], rooms[3], rooms[4], rooms[2], rooms[0]];
    expect(await page(500)).toEqual(byActivity);
    expect(idsOf((await ok(server, CONVERSATIONS, { limit: 500 }, t.alice)).conversations)).toEqual(byActivity);

    // Paged one and two at a time: each once, in the same order.
    const walk = async (limit: number) => {
      const seen: string[] = [];
      for (let before: string | undefined; ;) {
        const next = await page(limit, before);
        seen.push(...next);
        if (next.length < limit) return seen;
        before = next.at(-1);
      }
    };
    expect(await walk(1)).toEqual(byActivity);
    expect(await walk(2)).toEqual(byActivity);

    // A room the viewer joins goes to the top of their list only; the next message elsewhere passes it.
    const older = (await createConversation(server, t.bob, ['carol'], 'Older')).id;
    await ok(server, ADD, { id: older, userIds: ['member-7'] }, t.bob);
    expect(await page(2)).toEqual([older, rooms[1]]);
    expect(idsOf((await ok(server, CONVERSATIONS, { limit: 1 }, t.alice)).conversations)).toEqual([rooms[1]]);
    await send(server, t.alice, rooms[2]!, 'two');
    expect(await page(3)).toEqual([rooms[2], older, rooms[1]]);
    expect(await page(2, older)).toEqual([rooms[1], rooms[3]]);

    // Removed: gone from the list, and no longer a cursor.
    await ok(server, REMOVE, { id: rooms[2], userId: 'member-7' }, t.alice);
    expect(await page(500)).toEqual([older, rooms[1], rooms[3], rooms[4], rooms[0]]);
    const asCursor = await ok(server, CONVERSATIONS, { limit: 5, before: rooms[2] }, reader).catch((e: Error) => e);
    expect(String(asCursor)).toContain('NOT_FOUND');
  });
});

describe('a send’s events name no members', () => {
  it('publishes the same small events for a room of 2 and of 1,000, and every member still receives them', async () => {
    const server = await startTestServer({ backend: 'redis' });
    const t = await people();
    const listener = new Redis(redisUrl);
    dispose(() => listener.quit());
    const published: { channel: string; bytes: number; payload: Record<string, any> }[] = [];
    // With resume on, each event travels as `{"offset":…,"payload":…}`.
    listener.on('pmessage', (_pattern, channel, message) => {
      const wire = JSON.parse(message) as Record<string, any>;
      published.push({ channel, bytes: Buffer.byteLength(message), payload: wire.offset ? wire.payload : wire });
    });
    const orgPrefix = keySpace(server.config.redisPrefix, false).org('org-a');
    await listener.psubscribe(`${orgPrefix}org:org-a:*`);

    const sizes: number[][] = [];
    for (const size of [2, 1_000]) {
      const room = await createConversation(server, t.alice, ids(size - 1));
      const far = await tokenFor(user(`member-${size - 2}`));
      const events = await conversationEvents(server, far, room.id);
      const inbox = await inboxEvents(server, far);
      await settle(100);
      published.length = 0;
      const message = await send(server, t.alice, room.id, 'hello');
      await expectExactly(events, [
        {
          __typename: 'MessageAdded',
          message: { id: message.id, body: 'hello', status: 'QUEUED', reactions: [], deleted: false },
        },
      ]);
      const seen = await inbox.waitForEvents(2);
      expect(seen.find((event) => event.__typename === 'ConversationUpdated')?.conversation).toMatchObject({
        id: room.id,
        memberIds: room.memberIds,
        unreadCount: 1,
        lastMessage: { id: message.id },
      });
      expect(seen.find((event) => event.__typename === 'UnreadCountChanged')).toMatchObject({ unreadCount: 1 });

      await settle(100);
      expect(published.map((event) => event.channel).sort()).toEqual(
        [topics.conversation('org-a', room.id), topics.inbox('org-a'), topics.inbox('org-a')]
          .map((channel) => orgPrefix + channel)
          .sort(),
      );
      for (const { payload } of published) {
        expect(payload.audience).toBeUndefined();
        expect(payload.membersVersion).toBe(0);
        expect(payload.conversation?.memberIds).toBeUndefined();
      }
      sizes.push(published.map((event) => event.bytes).sort((a, b) => a - b));
    }
    // Only ids and times differ in length between the two rooms.
    for (const [small, big] of [sizes[0]!, sizes[1]!].map((list, i, all) => [list, all[1 - i]!] as const)) {
      small.forEach((bytes, i) => expect(Math.abs(bytes - big[i]!)).toBeLessThan(16));
    }
  });
});

describe.skipIf(!bin)('a send’s Redis work does not grow with the room', () => {
  it('runs the same commands for a message to 10 members as to 1,000', async () => {
    const redis = await startRedisServer(bin!);
    dispose(() => redis.stop());
    const server = await startTestServer({ env: { REDIS_URL: redis.url, REDIS_PREFIX: 'flat:' } });
    const stats = new Redis(redis.url);
    dispose(() => stats.quit());
    const t = await people();
    /** Calls per command while `work` runs (INFO commandstats counts script commands too). */
    const commandsDuring = async (work: () => Promise<unknown>) => {
      const before = await commandCalls(stats);
      await work();
      const after = await commandCalls(stats);
      return Object.fromEntries(
        [...after]
          .map(([command, calls]) => [command, calls - (before.get(command) ?? 0)] as const)
          .filter(([command, calls]) => calls > 0 && command !== 'info'),
      );
    };
    const perSize: Record<string, number>[] = [];
    for (const size of [10, 1_000]) {
      const room = await createConversation(server, t.alice, ids(size - 1));
      await send(server, t.alice, room.id, 'warm-up');
      perSize.push(await commandsDuring(() => send(server, t.alice, room.id, 'counted')));
    }
    // The commands a member count could multiply (background sweeps also call TIME, EVAL and ZRANGEBYSCORE now and then).
    const scaling = ['get', 'set', 'zadd', 'zrem', 'publish', 'spublish', 'xadd', 'incr', 'pexpire'];
    const [small, big] = perSize.map((counts) => scaling.map((command) => counts[command] ?? 0));
    expect(perSize[0]!.zadd).toBeLessThanOrEqual(4);
    expect(big).toEqual(small);
    for (const counts of perSize) expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBeLessThan(50);
  });
});

describe.skipIf(!bin)('scripts by their SHA1', () => {
  it('sends each script’s text once, then only its hash, and sends it again when Redis forgot it', async () => {
    const redis = await startRedisServer(bin!);
    dispose(() => redis.stop());
    const server = await startTestServer({ env: { REDIS_URL: redis.url, REDIS_PREFIX: 'sha:' } });
    const admin = new Redis(redis.url);
    dispose(() => admin.quit());
    const calls = async () => {
      const counted = await commandCalls(admin);
      return { eval: counted.get('eval') ?? 0, evalsha: counted.get('evalsha') ?? 0 };
    };
    const t = await people();
    const room = await createConversation(server, t.alice, ['bob']);
    await send(server, t.alice, room.id, 'first');
    const warm = await calls();
    for (let i = 0; i < 5; i++) await send(server, t.alice, room.id, `by hash ${i}`);
    const hashed = await calls();
    // Five sends (a rate-limit token and an append each, at least): by hash, not one script text sent.
    expect(hashed.eval - warm.eval).toBe(0);
    expect(hashed.evalsha - warm.evalsha).toBeGreaterThanOrEqual(10);

    // A restarted or flushed Redis knows no script: the next send still succeeds, its scripts sent again.
    await admin.script('FLUSH');
    const bobEvents = await conversationEvents(server, t.bob, room.id);
    const after = await send(server, t.alice, room.id, 'after the flush');
    expect((await calls()).eval).toBeGreaterThan(hashed.eval);
    await bobEvents.waitForEvents(1);
    expect(bobEvents.events[0]).toMatchObject({ __typename: 'MessageAdded', message: { id: after.id } });
  });
});

describe.skipIf(!bin)('inbox events across instances after a removal', () => {
  it('never reach a removed member on any instance, and reach them again once re-added', async () => {
    const [a, b] = await startCluster(2);
    const t = await people();
    const room = await createConversation(a!, t.alice, ['bob', 'carol', ...ids(50)]);
    // Bob's and Carol's inboxes on instance b, which learns the room's members from the first events.
    const bobInbox = await inboxEvents(b!, t.bob);
    const carolInbox = await inboxEvents(b!, t.carol);
    const bobEvents = await conversationEvents(b!, t.bob, room.id);
    const first = await send(a!, t.alice, room.id, 'before');
    await bobInbox.waitForEvents(2);

    await ok(a!, REMOVE, { id: room.id, userId: 'bob' }, t.alice);
    for (let i = 0; i < 3; i++) await send(a!, t.carol, room.id, `after ${i}`);
    await carolInbox.waitForEvents(2 + 1 + 3);
    await settle(300);
    const kinds = bobInbox.events.map((event) => [event.__typename, event.conversation?.lastMessage?.id ?? null]);
    expect(
      kinds
        .slice(0, 2)
        .map(([kind]) => kind)
        .sort(),
    ).toEqual(['ConversationUpdated', 'UnreadCountChanged']);
    expect(kinds.slice(2)).toEqual([['ConversationUpdated', null]]);
    expect(bobInbox.events.at(-1).conversation.memberIds).not.toContain('bob');
    expect(bobInbox.events.slice(0, 2).find((e) => e.conversation)?.conversation.lastMessage.id).toBe(first.id);
    // His conversation events ended with his removal.
    await bobEvents.completed;
    expect(bobEvents.events.at(-1)).toMatchObject({ __typename: 'MembersChanged' });

    await ok(b!, ADD, { id: room.id, userIds: ['bob'] }, t.alice);
    const back = await send(a!, t.carol, room.id, 'welcome back');
    const now = await bobInbox.waitForEvents(3 + 1 + 2);
    expect(now.slice(3).find((event) => event.conversation?.lastMessage?.id === back.id)?.conversation).toMatchObject({
      memberIds: expect.arrayContaining(['bob']),
      unreadCount: 1,
    });
  });
});

describe('conversations stored before sends were addressed by membership version', () => {
  it('are listed, sent to and delivered as before, and get their version on the first send', async () => {
    const server = await startTestServer({ backend: 'redis' });
    const t = await people();
    const raw = new Redis(redisUrl);
    dispose(() => raw.quit());
    const prefix = keySpace(server.config.redisPrefix, false).org('org-a');
    const old = await createConversation(server, t.alice, ['bob'], 'Old');
    const newer = await createConversation(server, t.alice, ['bob'], 'Newer');
    // As the previous version stored them: no membersVersion, no activity entry (members' lists held the order).
    for (const { id } of [old, newer]) {
      const key = `${prefix}doc:conversations:${id}`;
      const record = JSON.parse((await raw.get(key))!) as Record<string, unknown>;
      delete record.membersVersion;
      await raw.set(key, JSON.stringify(record));
      await raw.zrem(`${prefix}idx:conversations:activity:org-a`, id);
    }
    const listed = async () => idsOf((await ok(server, CONVERSATIONS, { limit: 10 }, t.bob)).conversations);
    expect(await listed()).toEqual([newer.id, old.id]);

    const inbox = await inboxEvents(server, t.bob);
    const message = await send(server, t.alice, old.id, 'still works');
    const seen = await inbox.waitForEvents(2);
    expect(seen.find((event) => event.__typename === 'ConversationUpdated')?.conversation).toMatchObject({
      id: old.id,
      memberIds: ['alice', 'bob'],
      lastMessage: { id: message.id },
    });
    expect(await listed()).toEqual([old.id, newer.id]);
    const stored = JSON.parse((await raw.get(`${prefix}doc:conversations:${old.id}`))!) as Record<string, unknown>;
    expect(stored.membersVersion).toBe(0);
  });
});

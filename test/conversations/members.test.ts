import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { createConversationStore } from '../../src/conversations/store.js';
import { createRedisEventRecorder } from '../../src/events/record-redis.js';
import { keySpace } from '../../src/lib/keys.js';
import { createRedisStorage } from '../../src/storage/redis.js';
import { BACKENDS, dispose, gql, ok, startTestServer, tokenFor, user, type TestServer } from '../support/harness.js';
import {
  ADD,
  CONVERSATION,
  conversationEvents,
  createConversation,
  inboxEvents,
  people,
  REMOVE,
  send,
  SEND,
  type ConversationView,
} from './support.js';

const redisUrl = inject('redisUrl');
const ids = (count: number, prefix = 'member') => Array.from({ length: count }, (_, i) => `${prefix}-${i}`);

/** The members of a conversation as `viewer` reads them. */
const membersOf = async (server: TestServer, token: string, id: string) =>
  ((await ok(server, CONVERSATION, { id }, token)).conversation as ConversationView).memberIds;

/** The Redis key of a conversation's stored record, and of its members index. */
const keysOf = (server: TestServer, id: string) => {
  const prefix = keySpace(server.config.redisPrefix, false).org('org-a');
  return { record: `${prefix}doc:conversations:${id}`, members: `${prefix}idx:conversations:members:${id}` };
};

describe.each(BACKENDS)('a conversation’s members on the %s backend', (backend) => {
  it('are listed in join order after creating, adding and removing, wherever the API shows them', async () => {
    const server = await startTestServer({ backend, env: { MAX_CONVERSATION_MEMBERS: '6' } });
    const t = await people();
    const room = await createConversation(server, t.alice, ['dave', 'bob', 'carol', 'bob']);
    expect(room.memberIds).toEqual(['alice', 'dave', 'bob', 'carol']);
    const events = await conversationEvents(server, t.alice, room.id);
    const inbox = await inboxEvents(server, t.bob);

    const added = await ok(server, ADD, { id: room.id, userIds: ['erin', 'bob', 'aaron'] }, t.alice);
    expect(added.addConversationMembers.memberIds).toEqual(['alice', 'dave', 'bob', 'carol', 'erin', 'aaron']);
    // Count-based limit: six members, a seventh is refused, nothing changes.
    const over = await gql(server, ADD, { id: room.id, userIds: ['zoe'] }, { token: t.alice });
    expect(over.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'userIds' });

    const removed = await ok(server, REMOVE, { id: room.id, userId: 'carol' }, t.alice);
    expect(removed.removeConversationMember.memberIds).toEqual(['alice', 'dave', 'bob', 'erin', 'aaron']);
    // Carol no longer sees it; re-added, she is the last to have joined.
    const carol = await tokenFor(user('carol'));
    expect((await gql(server, CONVERSATION, { id: room.id }, { token: carol })).errors?.[0]?.extensions).toMatchObject({
      code: 'NOT_FOUND',
    });
    await ok(server, ADD, { id: room.id, userIds: ['carol'] }, t.alice);
    const final = ['alice', 'dave', 'bob', 'erin', 'aaron', 'carol'];
    expect(await membersOf(server, carol, room.id)).toEqual(final);
    expect(await membersOf(server, t.bob, room.id)).toEqual(final);

    // Events carry the list as it was after each change.
    const changes = await events.waitForEvents(3);
    expect(changes.map((event) => event.memberIds)).toEqual([
      ['alice', 'dave', 'bob', 'carol', 'erin', 'aaron'],
      ['alice', 'dave', 'bob', 'erin', 'aaron'],
      final,
    ]);
    // A send's inbox event carries no list: each process fills it in from storage, in join order.
    const message = await send(server, t.alice, room.id, 'hello');
    // Bob's inbox: three membership changes, then the send's ConversationUpdated and UnreadCountChanged.
    const seen = await inbox.waitForEvents(5);
    expect(seen.find((event) => event.conversation?.lastMessage?.id === message.id)?.conversation).toMatchObject({
      memberIds: final,
      unreadCount: 1,
    });
    // For members only: a stranger's send and read find nothing.
    const zoe = await tokenFor(user('zoe'));
    const strangerSend = await gql(server, SEND, { id: room.id, body: 'let me in' }, { token: zoe });
    expect(strangerSend.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND' });
    const strangerRead = await gql(server, CONVERSATION, { id: room.id }, { token: zoe });
    expect(strangerRead.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('conversations stored with their members in the record (the previous version)', () => {
  /** Rewrites a conversation as the previous version stored it: its members in the record, no count, no index. */
  const toOldShape = async (raw: Redis, server: TestServer, id: string, memberIds: string[], version?: number) => {
    const { record, members } = keysOf(server, id);
    const stored = JSON.parse((await raw.get(record))!) as Record<string, unknown>;
    delete stored.memberCount;
    delete stored.membersVersion;
    if (version !== undefined) stored.membersVersion = version;
    await raw.set(record, JSON.stringify({ ...stored, memberIds }));
    await raw.del(members);
  };
  const stored = async (raw: Redis, server: TestServer, id: string) =>
    JSON.parse((await raw.get(keysOf(server, id).record))!) as Record<string, unknown>;

  it('are not migrated under a reader whose membership changed meanwhile: the version they checked is the one held', async () => {
    const server = await startTestServer({ backend: 'redis' });
    const t = await people();
    const raw = new Redis(redisUrl);
    dispose(() => raw.quit());
    const keys = keySpace(server.config.redisPrefix, false);
    const store = createConversationStore(createRedisStorage(raw, keys, createRedisEventRecorder(keys, 300_000)))(
      'org-a',
    );
    const room = await createConversation(server, t.alice, ['bob']);
    await toOldShape(raw, server, room.id, ['alice', 'bob'], 3);
    // Bob's send read the record (the previous version's: it lists him) just before Alice removed him.
    const readForBob = (await store.conversations.get(room.id))!;
    expect(readForBob.memberIds).toEqual(['alice', 'bob']);
    await ok(server, REMOVE, { id: room.id, userId: 'bob' }, t.alice);
    expect(await stored(raw, server, room.id)).toMatchObject({ memberCount: 1, membersVersion: 4 });
    // Migrated and changed by then: the send goes on with the version Bob was checked at, which no longer holds.
    expect((await store.versioned(readForBob)).membersVersion).toBe(3);
    expect(
      (await gql(server, SEND, { id: room.id, body: 'after removal' }, { token: t.bob })).errors?.[0]?.extensions,
    ).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('are read as they are, and their list moves out on the first send or membership change', async () => {
    const server = await startTestServer({ backend: 'redis' });
    const t = await people();
    const raw = new Redis(redisUrl);
    dispose(() => raw.quit());

    const sentTo = await createConversation(server, t.alice, ['bob', 'carol']);
    await toOldShape(raw, server, sentTo.id, ['alice', 'bob', 'carol']);
    expect(await membersOf(server, t.bob, sentTo.id)).toEqual(['alice', 'bob', 'carol']);
    const dave = await tokenFor(user('dave'));
    expect((await gql(server, CONVERSATION, { id: sentTo.id }, { token: dave })).errors?.[0]?.extensions).toMatchObject(
      { code: 'NOT_FOUND' },
    );
    const inbox = await inboxEvents(server, t.carol);
    const message = await send(server, t.bob, sentTo.id, 'still works');
    const seen = await inbox.waitForEvents(2);
    expect(seen.find((event) => event.__typename === 'ConversationUpdated')?.conversation).toMatchObject({
      memberIds: ['alice', 'bob', 'carol'],
      lastMessage: { id: message.id },
      unreadCount: 1,
    });
    // Moved out by the send: the record holds a count, the index the members in their order.
    expect(await stored(raw, server, sentTo.id)).toMatchObject({ memberCount: 3, membersVersion: 0 });
    expect((await stored(raw, server, sentTo.id)).memberIds).toBeUndefined();
    expect(await raw.zrange(keysOf(server, sentTo.id).members, 0, -1)).toEqual(['alice', 'bob', 'carol']);
    expect(await membersOf(server, t.carol, sentTo.id)).toEqual(['alice', 'bob', 'carol']);

    const changed = await createConversation(server, t.alice, ['bob', 'carol']);
    await toOldShape(raw, server, changed.id, ['alice', 'bob', 'carol'], 4);
    const added = await ok(server, ADD, { id: changed.id, userIds: ['dave'] }, t.bob);
    expect(added.addConversationMembers.memberIds).toEqual(['alice', 'bob', 'carol', 'dave']);
    const removed = await ok(server, REMOVE, { id: changed.id, userId: 'bob' }, t.alice);
    expect(removed.removeConversationMember.memberIds).toEqual(['alice', 'carol', 'dave']);
    expect(await membersOf(server, dave, changed.id)).toEqual(['alice', 'carol', 'dave']);
    expect(await stored(raw, server, changed.id)).toMatchObject({ memberCount: 3, membersVersion: 6 });
    expect((await stored(raw, server, changed.id)).memberIds).toBeUndefined();
    await send(server, dave, changed.id, 'joined late');
    expect(
      (await gql(server, CONVERSATION, { id: changed.id }, { token: t.bob })).errors?.[0]?.extensions,
    ).toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('a send’s cost in the member count', () => {
  it('reads and rewrites the same record for 10 members and for 2,001, and checks membership with one lookup', async () => {
    const server = await startTestServer({ backend: 'redis', env: { MAX_CONVERSATION_MEMBERS: '5000' } });
    const t = await people();
    const raw = new Redis(redisUrl);
    const monitor = await new Redis(redisUrl).monitor();
    dispose(() => raw.quit());
    dispose(() => monitor.disconnect());

    const sizes: number[] = [];
    const commands: string[][] = [];
    for (const count of [9, 2_000]) {
      const room = await createConversation(server, t.alice, ids(count));
      expect(room.memberIds).toHaveLength(count + 1);
      const { record, members } = keysOf(server, room.id);
      const seen: string[] = [];
      const listen = (_: string, args: string[]) => {
        // A script goes by its text (EVAL) the first time on a connection, then by its hash (EVALSHA).
        const name = args[0]!.toUpperCase().replace(/^EVALSHA$/, 'EVAL');
        if (args.some((arg) => arg === record || arg === members)) seen.push(name);
      };
      monitor.on('monitor', listen);
      await send(server, await tokenFor(user('member-5')), room.id, 'same cost');
      // MONITOR's feed trails the commands a little.
      await new Promise((resolve) => setTimeout(resolve, 200));
      monitor.off('monitor', listen);
      commands.push(seen);
      sizes.push(await raw.strlen(record));
      expect(await raw.zcard(members)).toBe(count + 1);
    }
    // The record differs only in the count's digits ("10" and "2001"); the list is not in it.
    expect(sizes[1]! - sizes[0]!).toBe(2);
    expect(sizes[1]).toBeLessThan(1_000);
    // The same commands on the record and the members index: a read, one score lookup, the append script.
    expect(commands[1]).toEqual(commands[0]);
    expect(commands[0]).toContain('ZSCORE');
    expect(commands[0]!.filter((name) => name.startsWith('ZRANGE'))).toEqual([]);
  });
});

import { describe, expect, inject, it } from 'vitest';
import { BACKENDS, dispose, gql, ok, startTestServer, tokenFor, user } from '../support/harness.js';
import { startRedisProxy } from '../support/redis-proxy.js';
import { startRedisServer } from '../support/redis-server.js';
import {
  ADD,
  conversationEvents,
  CREATE,
  createConversation,
  expectExactly,
  inboxEvents,
  people,
  REMOVE,
  send,
} from './support.js';

const bin = inject('redisServerBin');
const ids = (count: number, prefix = 'member') => Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
const LISTED = `{ conversations(limit: 500) { id } }`;

describe('rooms of any size up to MAX_CONVERSATION_MEMBERS', () => {
  it('caps a conversation at 1,000 members by default', async () => {
    const server = await startTestServer();
    const t = await people();
    const full = await createConversation(server, t.alice, ids(999));
    expect(full.memberIds).toHaveLength(1_000);
    const over = await gql(server, CREATE, { memberIds: ids(1_000) }, { token: t.alice });
    expect(over.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'memberIds' });
    const add = await gql(server, ADD, { id: full.id, userIds: ['one-too-many'] }, { token: t.alice });
    expect(add.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'userIds' });
  });

  it('holds 10,000 members with MAX_CONVERSATION_MEMBERS=10000: a send reaches them, the 10,001st is refused', async () => {
    const server = await startTestServer({ backend: 'redis', env: { MAX_CONVERSATION_MEMBERS: '10000' } });
    const t = await people();
    const room = await createConversation(server, t.alice, ids(9_999), 'Everyone');
    expect(room.memberIds).toHaveLength(10_000);

    const far = await tokenFor(user('member-9998'));
    const events = await conversationEvents(server, far, room.id);
    const inbox = await inboxEvents(server, far);
    const message = await send(server, t.alice, room.id, 'Hello, all 10,000 of you');
    await expectExactly(events, [
      {
        __typename: 'MessageAdded',
        message: { id: message.id, body: 'Hello, all 10,000 of you', status: 'QUEUED', reactions: [], deleted: false },
      },
    ]);
    const seen = await inbox.waitForEvents(2);
    expect(seen.map((event) => event.__typename).sort()).toEqual(['ConversationUpdated', 'UnreadCountChanged']);
    expect(seen.find((event) => event.__typename === 'UnreadCountChanged')).toMatchObject({
      conversationId: room.id,
      unreadCount: 1,
    });
    expect(seen.find((event) => event.__typename === 'ConversationUpdated')?.conversation).toMatchObject({
      id: room.id,
      unreadCount: 1,
      lastMessage: { id: message.id },
    });
    expect((await ok(server, LISTED, {}, far)).conversations).toEqual([{ id: room.id }]);

    const add = await gql(server, ADD, { id: room.id, userIds: ['member-10000'] }, { token: t.alice });
    expect(add.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'userIds' });
  });
});

describe.each(BACKENDS)('membership and members’ lists on the %s backend', (backend) => {
  it('keeps a member’s list exact under concurrent removals and re-additions', async () => {
    const server = await startTestServer({ backend });
    const t = await people();
    const { id } = await createConversation(server, t.alice, ['bob', 'carol']);
    for (let round = 0; round < 30; round++) {
      await Promise.all([
        ok(server, REMOVE, { id, userId: 'bob' }, t.alice),
        ok(server, ADD, { id, userIds: ['bob'] }, t.alice),
        round % 3 === 0 ? send(server, t.carol, id, `round ${round}`) : undefined,
      ]);
      const members = (await ok(server, `query ($id: ID!) { conversation(id: $id) { memberIds } }`, { id }, t.alice))
        .conversation.memberIds as string[];
      const listed = (await ok(server, LISTED, {}, t.bob)).conversations as { id: string }[];
      expect(listed, `round ${round}: listed exactly when a member`).toEqual(members.includes('bob') ? [{ id }] : []);
    }
  });

  it('numbers a message in its one write without touching what its text says', async () => {
    const server = await startTestServer({ backend });
    const t = await people();
    const { id } = await createConversation(server, t.alice, ['bob']);
    const events = await conversationEvents(server, t.bob, id);
    const body = '{"seq":-1,"lastMessageSeq":-1,"asOfSeq":-1} "memberIds":["alice","bob"]';
    const sent = await send(server, t.alice, id, body);
    expect(sent.body).toBe(body);
    await expectExactly(events, [
      { __typename: 'MessageAdded', message: { id: sent.id, body, status: 'QUEUED', reactions: [], deleted: false } },
    ]);
    const page = await ok(server, `query ($id: ID!) { messages(conversationId: $id) { id body } }`, { id }, t.bob);
    expect(page.messages).toEqual([{ id: sent.id, body }]);
    const view = await ok(
      server,
      `query ($id: ID!) { conversation(id: $id) { unreadCount lastMessage { id } } }`,
      { id },
      t.bob,
    );
    expect(view.conversation).toEqual({ unreadCount: 1, lastMessage: { id: sent.id } });
  });

  it('delivers inbox events to the members only, never to the same id in another organisation', async () => {
    const server = await startTestServer({ backend });
    const t = await people();
    const foreignBob = await tokenFor(user('bob', ['agent'], 'org-b'));
    const { id } = await createConversation(server, t.alice, ['bob']);
    const bobInbox = await inboxEvents(server, t.bob);
    const carolInbox = await inboxEvents(server, t.carol);
    const foreignInbox = await inboxEvents(server, foreignBob);

    const first = await send(server, t.alice, id, 'one');
    await expectExactly(bobInbox, [
      {
        __typename: 'ConversationUpdated',
        conversation: { id, memberIds: ['alice', 'bob'], unreadCount: 1, lastMessageId: first.id },
      },
      { __typename: 'UnreadCountChanged', conversationId: id, unreadCount: 1 },
    ]);

    await ok(server, REMOVE, { id, userId: 'bob' }, t.alice);
    await send(server, t.alice, id, 'two');
    // Bob hears his removal (the conversation without him: no unread count, no last message), then nothing more.
    await expectExactly(bobInbox, [
      {
        __typename: 'ConversationUpdated',
        conversation: { id, memberIds: ['alice', 'bob'], unreadCount: 1, lastMessageId: first.id },
      },
      { __typename: 'UnreadCountChanged', conversationId: id, unreadCount: 1 },
      {
        __typename: 'ConversationUpdated',
        conversation: { id, memberIds: ['alice'], unreadCount: 0, lastMessageId: null },
      },
    ]);
    await expectExactly(carolInbox, []);
    await expectExactly(foreignInbox, []);
  });
});

describe.skipIf(!bin)('membership across instances', () => {
  it('lists a member re-added on one instance while their removal on another is held up on its way to Redis', async () => {
    const redis = await startRedisServer(bin!);
    dispose(() => redis.stop());
    const proxy = await startRedisProxy(redis);
    dispose(() => proxy.close());
    const slow = await startTestServer({ env: { REDIS_URL: proxy.url, REDIS_PREFIX: 'rooms:' } });
    const fast = await startTestServer({ env: { REDIS_URL: redis.url, REDIS_PREFIX: 'rooms:' } });
    const t = await people();
    const { id } = await createConversation(fast, t.alice, ['bob', 'carol']);

    // The removal's first write that names Bob's list is held for a second; meanwhile Bob is added back.
    const held = proxy.stallNext('member:org-a:bob', 1_000);
    const removal = ok(slow, REMOVE, { id, userId: 'bob' }, t.alice);
    await held;
    await ok(fast, ADD, { id, userIds: ['bob'] }, t.alice);
    await removal;

    const members = (await ok(fast, `query ($id: ID!) { conversation(id: $id) { memberIds } }`, { id }, t.alice))
      .conversation.memberIds as string[];
    const listed = (await ok(fast, LISTED, {}, t.bob)).conversations as { id: string }[];
    expect(listed).toEqual(members.includes('bob') ? [{ id }] : []);
  });
});

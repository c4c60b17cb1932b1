import { describe, expect, it } from 'vitest';
import { BACKENDS, gql, ok, settle, startCluster, startTestServer, subscribeWs, wsClient } from '../support/harness.js';
import {
  ADD,
  CONVERSATION,
  CONVERSATION_EVENTS,
  conversationEvents,
  createConversation,
  DELETE,
  EDIT,
  expectExactly,
  history,
  inboxEvents,
  MARK_READ,
  MESSAGES,
  people,
  REACT,
  REMOVE,
  send,
  STATUS,
  strip,
  subscribeSse,
  TYPING,
} from './support.js';

describe.each(BACKENDS)('conversation access on the %s backend', (backend) => {
  it('reports a conversation and its messages to non-members and other organisations exactly as missing ones', async () => {
    const server = await startTestServer({ backend });
    const t = await people();
    const { id } = await createConversation(server, t.alice, ['bob']);
    const message = await send(server, t.alice, id, 'members only');
    const missingId = '00000000-0000-0000-0000-000000000000';

    const attempts: [string, Record<string, unknown>, string][] = [
      [CONVERSATION, { id }, 'id'],
      [MESSAGES, { id }, 'id'],
      [`mutation ($id: ID!) { sendMessage(conversationId: $id, body: "hi") { id } }`, { id }, 'id'],
      [ADD, { id, userIds: ['carol'] }, 'id'],
      [REMOVE, { id, userId: 'bob' }, 'id'],
      [MARK_READ, { id }, 'id'],
      [TYPING, { id, isTyping: true }, 'id'],
      [EDIT, { id: message.id, body: 'x' }, 'id'],
      [DELETE, { id: message.id }, 'id'],
      [REACT, { id: message.id, emoji: '👍' }, 'id'],
    ];
    // Carol (same organisation, not a member), an admin who is no member, and an admin of another organisation.
    for (const token of [t.carol, t.admin, t.stranger]) {
      for (const [query, variables, field] of attempts) {
        const real = await gql(server, query, variables, { token });
        const missing = await gql(server, query, { ...variables, [field]: missingId }, { token });
        expect(real.errors?.[0]?.extensions?.code, query).toBe('NOT_FOUND');
        expect(real.errors![0]!.message.replace(variables[field] as string, missingId)).toBe(
          missing.errors![0]!.message,
        );
      }
      const subscription = await subscribeWs(server, wsClient(server, token), CONVERSATION_EVENTS, { id });
      expect(JSON.stringify(await subscription.waitForError())).toContain('NOT_FOUND');
      expect((await ok(server, `{ conversations { id } }`, {}, token)).conversations).toEqual([]);
    }
    // A message id as a paging cursor of another conversation.
    const mine = await createConversation(server, t.carol, []);
    expect(
      (await gql(server, MESSAGES, { id: mine.id, before: message.id }, { token: t.carol })).errors?.[0]?.extensions
        ?.code,
    ).toBe('NOT_FOUND');
    // Nothing changed.
    expect(await history(server, t.bob, id)).toMatchObject([{ id: message.id, body: 'members only', reactions: [] }]);
  });

  it('needs service or admin to report delivery status, within the organisation', async () => {
    const server = await startTestServer({ backend });
    const t = await people();
    const { id } = await createConversation(server, t.alice, ['bob']);
    const message = await send(server, t.alice, id, 'status');
    const code = async (token: string) =>
      (await gql(server, STATUS, { id: message.id, status: 'SENT' }, { token })).errors?.[0]?.extensions?.code;
    expect(await code(t.alice)).toBe('FORBIDDEN');
    expect(await code(t.bob)).toBe('FORBIDDEN');
    expect(await code(t.foreignService)).toBe('NOT_FOUND');
    expect(await code(t.stranger)).toBe('NOT_FOUND');
    expect((await history(server, t.alice, id))[0]!.status).toBe('QUEUED');
    // The organisation's gateway needs no membership.
    expect((await ok(server, STATUS, { id: message.id, status: 'SENT' }, t.service)).updateMessageStatus.status).toBe(
      'SENT',
    );
  });

  it('lets members leave, and only the creator or an admin member remove others', async () => {
    const server = await startTestServer({ backend });
    const t = await people();
    const { id } = await createConversation(server, t.alice, ['bob', 'carol', 'root']);
    const code = async (token: string, userId: string) =>
      (await gql(server, REMOVE, { id, userId }, { token })).errors?.[0]?.extensions?.code;
    expect(await code(t.bob, 'carol')).toBe('FORBIDDEN');
    expect(await code(t.bob, 'alice')).toBe('FORBIDDEN');
    expect((await ok(server, REMOVE, { id, userId: 'carol' }, t.admin)).removeConversationMember.memberIds).toEqual([
      'alice',
      'bob',
      'root',
    ]);
    const left = (await ok(server, REMOVE, { id, userId: 'bob' }, t.bob)).removeConversationMember;
    expect(left).toMatchObject({ memberIds: ['alice', 'root'], unreadCount: 0, lastMessage: null });
    expect((await gql(server, CONVERSATION, { id }, { token: t.bob })).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await ok(server, REMOVE, { id, userId: 'root' }, t.alice)).removeConversationMember.memberIds).toEqual([
      'alice',
    ]);
    // Any member may add; a re-added member is a member again.
    expect((await ok(server, ADD, { id, userIds: ['bob'] }, t.alice)).addConversationMembers.memberIds).toEqual([
      'alice',
      'bob',
    ]);
    expect((await ok(server, CONVERSATION, { id }, t.bob)).conversation.memberIds).toEqual(['alice', 'bob']);
  });

  it('ends a removed member\u2019s subscription within 1 s with MembersChanged last, and shows them nothing after', async () => {
    const server = await startTestServer({ backend });
    const t = await people();
    const { id } = await createConversation(server, t.alice, ['bob', 'carol']);
    const carolEvents = await conversationEvents(server, t.carol, id);
    const carolInbox = await inboxEvents(server, t.carol);
    const bobEvents = await conversationEvents(server, t.bob, id);
    await ok(server, TYPING, { id, isTyping: true }, t.carol);
    const before = await send(server, t.alice, id, 'before');

    const removedAt = Date.now();
    await ok(server, REMOVE, { id, userId: 'carol' }, t.alice);
    await carolEvents.completed;
    expect(Date.now() - removedAt).toBeLessThan(1000);
    const after = await send(server, t.alice, id, 'after');
    await ok(server, TYPING, { id, isTyping: true }, t.alice);

    await expectExactly(carolEvents, [
      {
        __typename: 'MessageAdded',
        message: { id: before.id, body: 'before', status: 'QUEUED', reactions: [], deleted: false },
      },
      { __typename: 'MembersChanged', memberIds: ['alice', 'bob'] },
    ]);
    expect(carolEvents.errors).toEqual([]);
    // Removing a typist stops their typing for the others.
    await expectExactly(bobEvents, [
      { __typename: 'TypingChanged', userId: 'carol', isTyping: true },
      expect.objectContaining({ __typename: 'MessageAdded' }),
      { __typename: 'MembersChanged', memberIds: ['alice', 'bob'] },
      { __typename: 'TypingChanged', userId: 'carol', isTyping: false },
      expect.objectContaining({ __typename: 'MessageAdded', message: expect.objectContaining({ id: after.id }) }),
      { __typename: 'TypingChanged', userId: 'alice', isTyping: true },
    ]);
    await expectExactly(carolInbox, [
      expect.objectContaining({ __typename: 'ConversationUpdated' }),
      { __typename: 'UnreadCountChanged', conversationId: id, unreadCount: 1 },
      {
        __typename: 'ConversationUpdated',
        conversation: { id, memberIds: ['alice', 'bob'], unreadCount: 0, lastMessageId: null },
      },
    ]);
    // And the removed member cannot subscribe again.
    const again = await subscribeWs(server, wsClient(server, t.carol), CONVERSATION_EVENTS, { id });
    expect(JSON.stringify(await again.waitForError())).toContain('NOT_FOUND');
  });
});

describe('conversation access over SSE', () => {
  it('ends a removed member\u2019s SSE subscription within 1 s with MembersChanged last', async () => {
    const [a, b] = await startCluster(2);
    const t = await people();
    const { id } = await createConversation(a!, t.alice, ['bob']);
    const bobEvents = await subscribeSse(b!, t.bob, CONVERSATION_EVENTS, { id });
    const message = await send(a!, t.alice, id, 'over SSE');
    const removedAt = Date.now();
    await ok(a!, REMOVE, { id, userId: 'bob' }, t.alice);
    await bobEvents.completed;
    expect(Date.now() - removedAt).toBeLessThan(1000);
    await send(a!, t.alice, id, 'not for bob');
    await settle(150);
    expect(bobEvents.errors).toEqual([]);
    expect(bobEvents.events.map(strip)).toEqual([
      {
        __typename: 'MessageAdded',
        message: { id: message.id, body: 'over SSE', status: 'QUEUED', reactions: [], deleted: false },
      },
      { __typename: 'MembersChanged', memberIds: ['alice'] },
    ]);
  });
});

describe('conversation access across instances', () => {
  it('ends the subscription of a member removed on another instance', async () => {
    const [a, b] = await startCluster(2);
    const t = await people();
    const { id } = await createConversation(a!, t.alice, ['bob']);
    const bobEvents = await conversationEvents(b!, t.bob, id);
    const removedAt = Date.now();
    await ok(a!, REMOVE, { id, userId: 'bob' }, t.alice);
    await bobEvents.completed;
    expect(Date.now() - removedAt).toBeLessThan(1000);
    await send(a!, t.alice, id, 'not for bob');
    await expectExactly(bobEvents, [{ __typename: 'MembersChanged', memberIds: ['alice'] }]);
  });
});

import { describe, expect, it } from 'vitest';
import { BACKENDS, gql, ok, startCluster, startTestServer } from '../support/harness.js';
import {
  codeOf,
  CONVERSATION,
  CONVERSATIONS,
  conversationEvents,
  createConversation,
  DELETE,
  EDIT,
  expectExactly,
  history,
  MARK_READ,
  people,
  REACT,
  send,
  STATUS,
} from './support.js';

describe.each(BACKENDS)('messages on the %s backend', (backend) => {
  it('sends, edits, deletes to a tombstone and toggles reactions', async () => {
    const server = await startTestServer({ backend });
    const t = await people();
    const { id } = await createConversation(server, t.alice, ['bob']);
    const sent = await send(server, t.alice, id, '  Hello  ');
    expect(sent).toMatchObject({
      conversationId: id,
      senderId: 'alice',
      body: 'Hello',
      status: 'QUEUED',
      reactions: [],
      clientMessageId: null,
      editedAt: null,
      deleted: false,
    });
    expect(new Date(sent.createdAt).toISOString()).toBe(sent.createdAt);

    const edited = (await ok(server, EDIT, { id: sent.id, body: 'Hello there' }, t.alice)).editMessage;
    expect(edited).toMatchObject({ id: sent.id, body: 'Hello there', deleted: false });
    expect(Date.parse(edited.editedAt)).toBeGreaterThanOrEqual(Date.parse(sent.createdAt));

    const react = async (token: string, emoji: string) =>
      (await ok(server, REACT, { id: sent.id, emoji }, token)).reactToMessage.reactions;
    expect(await react(t.bob, '👍')).toEqual([{ emoji: '👍', userIds: ['bob'] }]);
    expect(await react(t.alice, '👍')).toEqual([{ emoji: '👍', userIds: ['bob', 'alice'] }]);
    expect(await react(t.alice, '👍🏽')).toEqual([
      { emoji: '👍', userIds: ['bob', 'alice'] },
      { emoji: '👍🏽', userIds: ['alice'] },
    ]);
    expect(await react(t.bob, '👍')).toEqual([
      { emoji: '👍', userIds: ['alice'] },
      { emoji: '👍🏽', userIds: ['alice'] },
    ]);
    expect(await react(t.alice, '👍')).toEqual([{ emoji: '👍🏽', userIds: ['alice'] }]);

    const deleted = (await ok(server, DELETE, { id: sent.id }, t.alice)).deleteMessage;
    expect(deleted).toMatchObject({ id: sent.id, body: '', reactions: [], deleted: true, senderId: 'alice' });
    expect(await history(server, t.bob, id)).toEqual([deleted]);
    const conversation = (await ok(server, CONVERSATION, { id }, t.bob)).conversation;
    expect(conversation.lastMessage).toEqual({ id: sent.id, body: '', deleted: true });
    expect(conversation.unreadCount).toBe(0);
  });

  it('lets an admin member delete anyone\u2019s message, and only the sender edit', async () => {
    const server = await startTestServer({ backend });
    const t = await people();
    const { id } = await createConversation(server, t.alice, ['bob', 'root']);
    const message = await send(server, t.alice, id, 'moderate me');
    expect(await codeOf(server, t.bob, EDIT, { id: message.id, body: 'hijacked' })).toBe('FORBIDDEN');
    expect(await codeOf(server, t.admin, EDIT, { id: message.id, body: 'hijacked' })).toBe('FORBIDDEN');
    expect(await codeOf(server, t.bob, DELETE, { id: message.id })).toBe('FORBIDDEN');
    const deleted = (await ok(server, DELETE, { id: message.id }, t.admin)).deleteMessage;
    expect(deleted.deleted).toBe(true);
    expect(await codeOf(server, t.alice, EDIT, { id: message.id, body: 'too late' })).toBe('BAD_USER_INPUT');
    expect(await codeOf(server, t.bob, REACT, { id: message.id, emoji: '👍' })).toBe('BAD_USER_INPUT');
  });

  it('pages history oldest first with limit and before, tombstones in place', async () => {
    const server = await startTestServer({ backend });
    const t = await people();
    const { id } = await createConversation(server, t.alice, ['bob']);
    const sent = [];
    for (let i = 1; i <= 7; i++) sent.push(await send(server, i % 2 ? t.alice : t.bob, id, `m${i}`));
    await ok(server, DELETE, { id: sent[3]!.id }, t.bob);
    const bodies = (messages: { body: string; deleted: boolean }[]) =>
      messages.map((m) => (m.deleted ? '(deleted)' : m.body));

    expect(bodies(await history(server, t.alice, id))).toEqual(['m1', 'm2', 'm3', '(deleted)', 'm5', 'm6', 'm7']);
    const page1 = await history(server, t.alice, id, 3);
    expect(bodies(page1)).toEqual(['m5', 'm6', 'm7']);
    const page2 = await history(server, t.alice, id, 3, page1[0]!.id);
    expect(bodies(page2)).toEqual(['m2', 'm3', '(deleted)']);
    const page3 = await history(server, t.alice, id, 3, page2[0]!.id);
    expect(bodies(page3)).toEqual(['m1']);
    expect(await history(server, t.alice, id, 3, page3[0]!.id)).toEqual([]);
    expect(bodies(await history(server, t.bob, id, 200, sent[6]!.id))).toHaveLength(6);
  });

  it('creates one message per clientMessageId, sender and conversation, even when sends race', async () => {
    const server = await startTestServer({ backend });
    const t = await people();
    const { id } = await createConversation(server, t.alice, ['bob']);
    const other = await createConversation(server, t.alice, ['bob']);
    const events = await conversationEvents(server, t.bob, id);

    const first = await send(server, t.alice, id, 'once', 'c-1');
    expect(first.clientMessageId).toBe('c-1');
    const again = await send(server, t.alice, id, 'once, but retried with a new body', 'c-1');
    expect(again).toEqual(first);
    const racing = await Promise.all(
      Array.from({ length: 8 }, (_, i) => send(server, t.alice, id, `race ${i}`, 'c-2')),
    );
    expect(new Set(racing.map((m) => m.id)).size).toBe(1);
    expect(racing.every((m) => JSON.stringify(m) === JSON.stringify(racing[0]))).toBe(true);
    // The same key from another sender, or in another conversation, is another message.
    const bobs = await send(server, t.bob, id, 'mine', 'c-1');
    const elsewhere = await send(server, t.alice, other.id, 'elsewhere', 'c-1');
    expect(new Set([first.id, racing[0]!.id, bobs.id, elsewhere.id]).size).toBe(4);

    expect((await history(server, t.alice, id)).map((m) => m.id)).toEqual([first.id, racing[0]!.id, bobs.id]);
    await expectExactly(
      events,
      [first, racing[0]!, bobs].map((m) => ({
        __typename: 'MessageAdded',
        message: { id: m.id, body: m.body, status: 'QUEUED', reactions: [], deleted: false },
      })),
    );
    expect((await ok(server, CONVERSATION, { id }, t.bob)).conversation.unreadCount).toBe(2);
  });

  it('moves delivery status forward only, and publishes only forward moves', async () => {
    const server = await startTestServer({ backend });
    const t = await people();
    const { id } = await createConversation(server, t.alice, ['bob']);
    const message = await send(server, t.alice, id, 'track me');
    const failing = await send(server, t.alice, id, 'lost');
    const events = await conversationEvents(server, t.alice, id);
    const report = async (messageId: string, status: string, token = t.service) =>
      (await ok(server, STATUS, { id: messageId, status }, token)).updateMessageStatus.status;

    expect(await report(message.id, 'SENT')).toBe('SENT');
    expect(await report(message.id, 'SENT')).toBe('SENT');
    expect(await report(message.id, 'QUEUED')).toBe('SENT');
    expect(await report(message.id, 'READ', t.admin)).toBe('READ');
    expect(await report(message.id, 'DELIVERED')).toBe('READ'); // a late receipt
    expect(await report(message.id, 'FAILED')).toBe('READ');
    expect(await report(failing.id, 'FAILED')).toBe('FAILED');
    expect(await report(failing.id, 'SENT')).toBe('FAILED');
    expect(await report(failing.id, 'READ')).toBe('FAILED');

    await expectExactly(events, [
      { __typename: 'MessageStatusChanged', messageId: message.id, status: 'SENT' },
      { __typename: 'MessageStatusChanged', messageId: message.id, status: 'READ' },
      { __typename: 'MessageStatusChanged', messageId: failing.id, status: 'FAILED' },
    ]);
    expect((await history(server, t.bob, id)).map((m) => m.status)).toEqual(['READ', 'FAILED']);
  });

  it('keeps unread counts per viewer and moves read pointers forward only', async () => {
    const server = await startTestServer({ backend });
    const t = await people();
    const { id } = await createConversation(server, t.alice, ['bob', 'carol']);
    const unread = async (token: string) => (await ok(server, CONVERSATION, { id }, token)).conversation.unreadCount;
    const m1 = await send(server, t.alice, id, 'one');
    const m2 = await send(server, t.alice, id, 'two');
    await send(server, t.bob, id, 'three');
    expect([await unread(t.alice), await unread(t.bob), await unread(t.carol)]).toEqual([1, 2, 3]);

    const marked = (await ok(server, MARK_READ, { id, upTo: m2.id }, t.carol)).markConversationRead;
    expect(marked.unreadCount).toBe(1);
    await ok(server, MARK_READ, { id, upTo: m1.id }, t.carol); // backwards: ignored
    expect(await unread(t.carol)).toBe(1);
    await ok(server, MARK_READ, { id }, t.carol);
    expect(await unread(t.carol)).toBe(0);
    expect(await unread(t.bob)).toBe(2);
  });

  it('lists the viewer\u2019s conversations, most recently active first', async () => {
    const server = await startTestServer({ backend });
    const t = await people();
    const first = await createConversation(server, t.alice, ['bob'], 'first');
    const second = await createConversation(server, t.alice, ['carol'], 'second');
    const third = await createConversation(server, t.bob, ['alice'], 'third');
    const list = async (token: string, limit?: number) =>
      ((await ok(server, CONVERSATIONS, { limit }, token)).conversations as { title: string }[]).map((c) => c.title);
    expect(await list(t.alice)).toEqual(['third', 'second', 'first']);
    await send(server, t.bob, first.id, 'bump');
    expect(await list(t.alice)).toEqual(['first', 'third', 'second']);
    expect(await list(t.alice, 2)).toEqual(['first', 'third']);
    expect(await list(t.carol)).toEqual(['second']);
    expect(await list(t.stranger)).toEqual([]);
    const [top] = (await ok(server, CONVERSATIONS, {}, t.alice)).conversations;
    expect(top).toMatchObject({ id: first.id, unreadCount: 1, lastMessage: { body: 'bump' } });
    expect(second.lastActivityAt).toBe(second.createdAt);
    expect(third.creatorId).toBe('bob');
  });
});

describe('messages across instances', () => {
  it('is idempotent when duplicate sends race on two instances', async () => {
    const [a, b] = await startCluster(2);
    const t = await people();
    const { id } = await createConversation(a!, t.alice, ['bob']);
    const onA = await conversationEvents(a!, t.bob, id);
    const onB = await conversationEvents(b!, t.bob, id);
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        gql(i % 2 ? a! : b!, SEND_QUERY, { id, body: 'dup', key: 'k' }, { token: t.alice }),
      ),
    );
    const ids = new Set(results.map((r) => (r.data as any).sendMessage.id));
    expect(ids.size).toBe(1);
    expect(await history(b!, t.bob, id)).toHaveLength(1);
    const expected = [{ __typename: 'MessageAdded', message: expect.objectContaining({ id: [...ids][0] }) }];
    await expectExactly(onA, expected, 300);
    await expectExactly(onB, expected, 0);
  });
});

const SEND_QUERY = `mutation ($id: ID!, $body: String!, $key: String) {
  sendMessage(conversationId: $id, body: $body, clientMessageId: $key) { id }
}`;

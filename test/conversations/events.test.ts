import { describe, expect, it } from 'vitest';
import { BACKENDS, ok, startTestServer } from '../support/harness.js';
import {
  ADD,
  conversationEvents,
  createConversation,
  DELETE,
  EDIT,
  expectExactly,
  inboxEvents,
  MARK_READ,
  people,
  REACT,
  REMOVE,
  send,
  STATUS,
  TYPING,
} from './support.js';

describe.each(BACKENDS)('conversation and inbox events on the %s backend', (backend) => {
  it('delivers every event type, once each, to exactly the members they concern', async () => {
    const server = await startTestServer({ backend });
    const t = await people();
    const aliceInbox = await inboxEvents(server, t.alice);
    const bobInbox = await inboxEvents(server, t.bob);
    const carolInbox = await inboxEvents(server, t.carol);
    const conversation = await createConversation(server, t.alice, ['bob'], 'Launch');
    const id = conversation.id;
    const aliceEvents = await conversationEvents(server, t.alice, id);
    const bobEvents = await conversationEvents(server, t.bob, id);

    // Alice writes; Bob types, then answers (which ends his typing).
    const hello = await send(server, t.alice, id, 'Hello Bob');
    expect((await ok(server, TYPING, { id, isTyping: true }, t.bob)).setTyping).toBe(true);
    expect((await ok(server, TYPING, { id, isTyping: true }, t.bob)).setTyping).toBe(false);
    const answer = await send(server, t.bob, id, 'Hi Alice');
    // Alice reads Bob's answer; Bob reads up to Alice's message.
    await ok(server, MARK_READ, { id }, t.alice);
    await ok(server, MARK_READ, { id, upTo: hello.id }, t.bob);
    // Edits, reactions, delivery status.
    await ok(server, EDIT, { id: hello.id, body: 'Hello, Bob!' }, t.alice);
    await ok(server, REACT, { id: hello.id, emoji: '👍' }, t.bob);
    await ok(server, STATUS, { id: hello.id, status: 'DELIVERED' }, t.service);
    // Bob deletes his answer, which Alice had read; then Carol joins and leaves.
    await ok(server, DELETE, { id: answer.id }, t.bob);
    await ok(server, ADD, { id, userIds: ['carol'] }, t.alice);
    await ok(server, REMOVE, { id, userId: 'carol' }, t.carol);

    const message = (m: { id: string }, body: string, extra: Record<string, unknown> = {}) => ({
      id: m.id,
      body,
      status: 'QUEUED',
      reactions: [],
      deleted: false,
      ...extra,
    });
    const aliceExpected = [
      { __typename: 'MessageAdded', message: message(hello, 'Hello Bob') },
      { __typename: 'TypingChanged', userId: 'bob', isTyping: true },
      { __typename: 'MessageAdded', message: message(answer, 'Hi Alice') },
      { __typename: 'TypingChanged', userId: 'bob', isTyping: false },
      { __typename: 'MessagesRead', userId: 'alice', upToMessageId: answer.id },
      { __typename: 'MessagesRead', userId: 'bob', upToMessageId: hello.id },
      { __typename: 'MessageEdited', message: message(hello, 'Hello, Bob!') },
      {
        __typename: 'ReactionsChanged',
        message: message(hello, 'Hello, Bob!', { reactions: [{ emoji: '👍', userIds: ['bob'] }] }),
      },
      { __typename: 'MessageStatusChanged', messageId: hello.id, status: 'DELIVERED' },
      { __typename: 'MessageDeleted', messageId: answer.id },
      { __typename: 'MembersChanged', memberIds: ['alice', 'bob', 'carol'] },
      { __typename: 'MembersChanged', memberIds: ['alice', 'bob'] },
    ];
    await expectExactly(aliceEvents, aliceExpected);
    // Bob's typing goes to the other members only.
    await expectExactly(
      bobEvents,
      aliceExpected.filter((event) => event.__typename !== 'TypingChanged'),
    );

    const updated = (memberIds: string[], unreadCount: number, lastMessageId: string | null) => ({
      __typename: 'ConversationUpdated',
      conversation: { id, memberIds, unreadCount, lastMessageId },
    });
    const unread = (unreadCount: number) => ({ __typename: 'UnreadCountChanged', conversationId: id, unreadCount });
    await expectExactly(aliceInbox, [
      updated(['alice', 'bob'], 0, null), // created
      updated(['alice', 'bob'], 0, hello.id), // her message
      updated(['alice', 'bob'], 1, answer.id), // Bob's answer...
      unread(1), // ...is unread
      unread(0), // she read it
      updated(['alice', 'bob'], 0, answer.id), // the last message was deleted
      updated(['alice', 'bob', 'carol'], 0, answer.id),
      updated(['alice', 'bob'], 0, answer.id),
    ]);
    await expectExactly(bobInbox, [
      updated(['alice', 'bob'], 0, null),
      updated(['alice', 'bob'], 1, hello.id),
      unread(1),
      updated(['alice', 'bob'], 1, answer.id),
      unread(0),
      updated(['alice', 'bob'], 0, answer.id),
      updated(['alice', 'bob', 'carol'], 0, answer.id),
      updated(['alice', 'bob'], 0, answer.id),
    ]);
    // Carol joined after the history: it counts as read. Once she left, her view shows nothing inside.
    await expectExactly(carolInbox, [
      updated(['alice', 'bob', 'carol'], 0, answer.id),
      updated(['alice', 'bob'], 0, null),
    ]);
  });

  it('tells the other members when a deleted message was unread for them, and the sender of nothing', async () => {
    const server = await startTestServer({ backend });
    const t = await people();
    const { id } = await createConversation(server, t.alice, ['bob', 'carol']);
    const first = await send(server, t.alice, id, 'one');
    const second = await send(server, t.alice, id, 'two');
    await ok(server, MARK_READ, { id, upTo: second.id }, t.bob);
    const aliceInbox = await inboxEvents(server, t.alice);
    const bobInbox = await inboxEvents(server, t.bob);
    const carolInbox = await inboxEvents(server, t.carol);

    await ok(server, DELETE, { id: first.id }, t.alice);
    // Bob had read it: nothing changes for him. Carol had not: her count drops.
    await expectExactly(carolInbox, [{ __typename: 'UnreadCountChanged', conversationId: id, unreadCount: 1 }]);
    await expectExactly(bobInbox, []);
    await expectExactly(aliceInbox, []);
    const carolView = await ok(server, `query ($id: ID!) { conversation(id: $id) { unreadCount } }`, { id }, t.carol);
    expect(carolView.conversation.unreadCount).toBe(1);
  });

  it('publishes nothing for changes that change nothing', async () => {
    const server = await startTestServer({ backend });
    const t = await people();
    const { id } = await createConversation(server, t.alice, ['bob']);
    const message = await send(server, t.alice, id, 'same');
    await ok(server, MARK_READ, { id }, t.bob);
    const bobEvents = await conversationEvents(server, t.bob, id);
    const bobInbox = await inboxEvents(server, t.bob);

    await ok(server, EDIT, { id: message.id, body: '  same ' }, t.alice); // same body once trimmed
    await ok(server, MARK_READ, { id }, t.bob); // already read
    await ok(server, MARK_READ, { id, upTo: message.id }, t.bob);
    await ok(server, ADD, { id, userIds: ['bob', 'alice'] }, t.alice); // already members
    await ok(server, REMOVE, { id, userId: 'carol' }, t.alice); // not a member
    expect((await ok(server, TYPING, { id, isTyping: false }, t.alice)).setTyping).toBe(false); // was not typing
    await ok(server, STATUS, { id: message.id, status: 'QUEUED' }, t.service); // already QUEUED
    await ok(server, DELETE, { id: message.id }, t.alice);
    await ok(server, DELETE, { id: message.id }, t.alice); // a tombstone already

    await expectExactly(bobEvents, [{ __typename: 'MessageDeleted', messageId: message.id }]);
    await expectExactly(bobInbox, [
      {
        __typename: 'ConversationUpdated',
        conversation: { id, memberIds: ['alice', 'bob'], unreadCount: 0, lastMessageId: message.id },
      },
    ]);
  });
});

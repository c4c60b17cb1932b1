import type { Client } from 'graphql-ws';
import { describe, expect, it } from 'vitest';
import { ok, SHARED_BACKENDS, startCluster, subscribeWs } from '../support/harness.js';
import {
  ADD,
  CONVERSATION_EVENTS,
  CREATE,
  DELETE,
  EDIT,
  expectExactly,
  INBOX_EVENTS,
  MARK_READ,
  openTab,
  people,
  PRESENCE,
  PRESENCE_EVENTS,
  REACT,
  REMOVE,
  SEND,
  STATUS,
  TYPING,
} from './support.js';

/** A query or mutation over a front end's own WebSocket, failing the test on any error. */
async function run(client: Client, query: string, variables: Record<string, unknown> = {}) {
  for await (const result of client.iterate({ query, variables })) {
    if (result.errors?.length) throw new Error(`Unexpected errors: ${JSON.stringify(result.errors)}`);
    return Object.values(result.data as Record<string, any>)[0];
  }
  throw new Error('No result');
}

describe.each(SHARED_BACKENDS)('a chat between front ends on two instances (%s)', (backend) => {
  it('shows each front end every event of the conversation, its inbox and presence, exactly once', async () => {
    const [a, b] = await startCluster(2, { PRESENCE_HEARTBEAT_MS: '500', PRESENCE_LAPSE_MS: '2000' }, backend);
    const t = await people();

    // Alice's front end lives on instance A, Bob's on B: one WebSocket each, for everything.
    const alice = await openTab(a!, t.alice);
    const aliceInbox = await subscribeWs(a!, alice, INBOX_EVENTS);
    const alicePresence = await subscribeWs(a!, alice, PRESENCE_EVENTS, { userIds: ['bob'] });
    const bob = await openTab(b!, t.bob);
    const bobInbox = await subscribeWs(b!, bob, INBOX_EVENTS);
    const bobPresence = await subscribeWs(b!, bob, PRESENCE_EVENTS, { userIds: ['alice'] });
    await alicePresence.waitForEvents(1);
    expect(await run(bob, PRESENCE, { userIds: ['alice'] })).toMatchObject([{ userId: 'alice', online: true }]);

    const conversation = await run(alice, CREATE, { title: 'A and B', memberIds: ['bob'] });
    const id = conversation.id as string;
    const aliceEvents = await subscribeWs(a!, alice, CONVERSATION_EVENTS, { id });
    const bobEvents = await subscribeWs(b!, bob, CONVERSATION_EVENTS, { id });

    await run(alice, TYPING, { id, isTyping: true });
    const hi = await run(alice, SEND, { id, body: 'Hi from A', clientMessageId: 'a-1' });
    await run(alice, SEND, { id, body: 'Hi from A', clientMessageId: 'a-1' }); // a retry
    await run(bob, MARK_READ, { id });
    await run(bob, REACT, { id: hi.id, emoji: '🎉' });
    await ok(b!, STATUS, { id: hi.id, status: 'DELIVERED' }, t.service);
    const reply = await run(bob, SEND, { id, body: 'Hello from B' });
    await run(alice, EDIT, { id: hi.id, body: 'Hi from A (edited)' });
    await run(bob, DELETE, { id: reply.id });
    await run(alice, ADD, { id, userIds: ['carol'] });
    await run(alice, REMOVE, { id, userId: 'carol' });

    const msg = (m: { id: string }, body: string, extra: Record<string, unknown> = {}) => ({
      id: m.id,
      body,
      status: 'QUEUED',
      reactions: [],
      deleted: false,
      ...extra,
    });
    const party = [{ emoji: '🎉', userIds: ['bob'] }];
    const conversationExpected = [
      { __typename: 'TypingChanged', userId: 'alice', isTyping: true },
      { __typename: 'MessageAdded', message: msg(hi, 'Hi from A') },
      { __typename: 'TypingChanged', userId: 'alice', isTyping: false },
      { __typename: 'MessagesRead', userId: 'bob', upToMessageId: hi.id },
      { __typename: 'ReactionsChanged', message: msg(hi, 'Hi from A', { reactions: party }) },
      { __typename: 'MessageStatusChanged', messageId: hi.id, status: 'DELIVERED' },
      { __typename: 'MessageAdded', message: msg(reply, 'Hello from B') },
      {
        __typename: 'MessageEdited',
        message: msg(hi, 'Hi from A (edited)', { reactions: party, status: 'DELIVERED' }),
      },
      { __typename: 'MessageDeleted', messageId: reply.id },
      { __typename: 'MembersChanged', memberIds: ['alice', 'bob', 'carol'] },
      { __typename: 'MembersChanged', memberIds: ['alice', 'bob'] },
    ];
    await expectExactly(bobEvents, conversationExpected, 300);
    await expectExactly(
      aliceEvents,
      conversationExpected.filter((event) => !(event.__typename === 'TypingChanged')),
      0,
    );

    const updated = (memberIds: string[], unreadCount: number, lastMessageId: string | null) => ({
      __typename: 'ConversationUpdated',
      conversation: { id, memberIds, unreadCount, lastMessageId },
    });
    const unread = (unreadCount: number) => ({ __typename: 'UnreadCountChanged', conversationId: id, unreadCount });
    await expectExactly(aliceInbox, [
      updated(['alice', 'bob'], 0, null),
      updated(['alice', 'bob'], 0, hi.id),
      updated(['alice', 'bob'], 1, reply.id),
      unread(1),
      unread(0), // Bob deleted the reply she had not read
      updated(['alice', 'bob'], 0, reply.id),
      updated(['alice', 'bob', 'carol'], 0, reply.id),
      updated(['alice', 'bob'], 0, reply.id),
    ]);
    await expectExactly(bobInbox, [
      updated(['alice', 'bob'], 0, null),
      updated(['alice', 'bob'], 1, hi.id),
      unread(1),
      unread(0),
      updated(['alice', 'bob'], 0, reply.id),
      updated(['alice', 'bob'], 0, reply.id),
      updated(['alice', 'bob', 'carol'], 0, reply.id),
      updated(['alice', 'bob'], 0, reply.id),
    ]);

    // Bob closes his front end: Alice sees him go offline, once.
    await bob.dispose();
    await alicePresence.waitForEvents(2);
    await expectExactly(alicePresence, [
      { __typename: 'PresenceChanged', userId: 'bob', online: true, lastSeenAt: expect.any(String) },
      { __typename: 'PresenceChanged', userId: 'bob', online: false, lastSeenAt: expect.any(String) },
    ]);
    expect(bobPresence.events).toEqual([]);
  });
});

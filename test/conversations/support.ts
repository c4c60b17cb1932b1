import { createClient as createSseClient } from 'graphql-sse';
import type { Client } from 'graphql-ws';
import { expect } from 'vitest';
import {
  dispose,
  gql,
  health,
  ok,
  settle,
  subscribeWs,
  tokenFor,
  user,
  wsClient,
  type Subscription,
  type TestServer,
} from '../support/harness.js';

/** Everything a front end asks about a message. */
export const MESSAGE_FIELDS =
  'id conversationId senderId body status reactions { emoji userIds } clientMessageId createdAt editedAt deleted';

/** Everything a front end asks about a conversation. */
export const CONVERSATION_FIELDS =
  'id title memberIds unreadCount lastMessage { id body deleted } creatorId createdAt lastActivityAt';

export const CONVERSATION_EVENTS = `subscription ($id: ID!) {
  conversationEvents(conversationId: $id) {
    __typename
    ... on Event { occurredAt }
    ... on MessageAdded { message { ${MESSAGE_FIELDS} } }
    ... on MessageEdited { message { ${MESSAGE_FIELDS} } }
    ... on MessageDeleted { messageId }
    ... on ReactionsChanged { message { ${MESSAGE_FIELDS} } }
    ... on MessageStatusChanged { messageId status }
    ... on MessagesRead { userId upToMessageId }
    ... on TypingChanged { userId isTyping }
    ... on MembersChanged { memberIds }
  }
}`;

export const INBOX_EVENTS = `subscription {
  inboxEvents {
    __typename
    ... on Event { occurredAt }
    ... on UnreadCountChanged { conversationId unreadCount }
    ... on ConversationUpdated { conversation { ${CONVERSATION_FIELDS} } }
  }
}`;

export const PRESENCE_EVENTS = `subscription ($userIds: [ID!]!) {
  presenceChanged(userIds: $userIds) { __typename userId online lastSeenAt occurredAt }
}`;

export const CREATE = `mutation ($title: String, $memberIds: [ID!]!) {
  createConversation(title: $title, memberIds: $memberIds) { ${CONVERSATION_FIELDS} }
}`;
export const ADD = `mutation ($id: ID!, $userIds: [ID!]!) {
  addConversationMembers(conversationId: $id, userIds: $userIds) { ${CONVERSATION_FIELDS} }
}`;
export const REMOVE = `mutation ($id: ID!, $userId: ID!) {
  removeConversationMember(conversationId: $id, userId: $userId) { ${CONVERSATION_FIELDS} }
}`;
export const SEND = `mutation ($id: ID!, $body: String!, $clientMessageId: String) {
  sendMessage(conversationId: $id, body: $body, clientMessageId: $clientMessageId) { ${MESSAGE_FIELDS} }
}`;
export const EDIT = `mutation ($id: ID!, $body: String!) { editMessage(id: $id, body: $body) { ${MESSAGE_FIELDS} } }`;
export const DELETE = `mutation ($id: ID!) { deleteMessage(id: $id) { ${MESSAGE_FIELDS} } }`;
export const REACT = `mutation ($id: ID!, $emoji: String!) { reactToMessage(messageId: $id, emoji: $emoji) { ${MESSAGE_FIELDS} } }`;
export const MARK_READ = `mutation ($id: ID!, $upTo: ID) {
  markConversationRead(conversationId: $id, upToMessageId: $upTo) { ${CONVERSATION_FIELDS} }
}`;
export const TYPING = `mutation ($id: ID!, $isTyping: Boolean!) { setTyping(conversationId: $id, isTyping: $isTyping) }`;
export const STATUS = `mutation ($id: ID!, $status: MessageStatus!) {
  updateMessageStatus(messageId: $id, status: $status) { ${MESSAGE_FIELDS} }
}`;
export const CONVERSATION = `query ($id: ID!) { conversation(id: $id) { ${CONVERSATION_FIELDS} } }`;
export const CONVERSATIONS = `query ($limit: Int, $before: ID) {
  conversations(limit: $limit, before: $before) { ${CONVERSATION_FIELDS} }
}`;
export const MESSAGES = `query ($id: ID!, $limit: Int, $before: ID) {
  messages(conversationId: $id, limit: $limit, before: $before) { ${MESSAGE_FIELDS} }
}`;
export const PRESENCE = `query ($userIds: [ID!]!) { presence(userIds: $userIds) { userId online lastSeenAt } }`;

/** The cast of most tests: three agents, an admin and a gateway of org-a, and strangers of org-b. */
export async function people() {
  return {
    alice: await tokenFor(user('alice')),
    bob: await tokenFor(user('bob')),
    carol: await tokenFor(user('carol')),
    admin: await tokenFor(user('root', ['admin'])),
    service: await tokenFor(user('gateway', ['service'])),
    stranger: await tokenFor(user('mallory', ['admin'], 'org-b')),
    foreignService: await tokenFor(user('gateway-b', ['service'], 'org-b')),
  };
}

export interface ConversationView {
  id: string;
  title: string | null;
  memberIds: string[];
  unreadCount: number;
  lastMessage: { id: string; body: string; deleted: boolean } | null;
  creatorId: string;
  createdAt: string;
  lastActivityAt: string;
}

export interface MessageView {
  id: string;
  conversationId: string;
  senderId: string;
  body: string;
  status: string;
  reactions: { emoji: string; userIds: string[] }[];
  clientMessageId: string | null;
  createdAt: string;
  editedAt: string | null;
  deleted: boolean;
}

export async function createConversation(
  server: TestServer,
  token: string,
  memberIds: string[],
  title: string | null = null,
): Promise<ConversationView> {
  return (await ok(server, CREATE, { title, memberIds }, token)).createConversation;
}

export async function send(
  server: TestServer,
  token: string,
  id: string,
  body: string,
  clientMessageId?: string,
): Promise<MessageView> {
  return (await ok(server, SEND, { id, body, clientMessageId }, token)).sendMessage;
}

export async function history(server: TestServer, token: string, id: string, limit?: number, before?: string) {
  return (await ok(server, MESSAGES, { id, limit, before }, token)).messages as MessageView[];
}

/** The first error code of an operation run over HTTP. */
export async function codeOf(server: TestServer, token: string, query: string, variables: Record<string, unknown>) {
  const result = await gql(server, query, variables, { token });
  expect(result.errors, `expected an error from ${query.slice(0, 60)}`).toBeDefined();
  return result.errors![0]!.extensions?.code;
}

/** A subscription to a conversation's events, as `token` over its own WebSocket. */
export function conversationEvents(server: TestServer, token: string, id: string, client?: Client) {
  return subscribeWs(server, client ?? wsClient(server, token), CONVERSATION_EVENTS, { id });
}

/** A subscription to the viewer's inbox, over its own WebSocket. */
export function inboxEvents(server: TestServer, token: string, client?: Client) {
  return subscribeWs(server, client ?? wsClient(server, token), INBOX_EVENTS);
}

/**
 * An event without its timestamp (checked to be ISO 8601), and messages
 * and conversations reduced to what the assertions name.
 */
export function strip(event: Record<string, any>): Record<string, any> {
  const { occurredAt, ...rest } = event;
  expect(new Date(occurredAt).toISOString()).toBe(occurredAt);
  if (rest.message) {
    const { id, body, status, reactions, deleted } = rest.message;
    rest.message = { id, body, status, reactions, deleted };
  }
  if (rest.conversation) {
    const { id, memberIds, unreadCount, lastMessage } = rest.conversation;
    rest.conversation = { id, memberIds, unreadCount, lastMessageId: lastMessage?.id ?? null };
  }
  return rest;
}

/** What a subscription received, stripped. */
export const seen = (subscription: Subscription) => subscription.events.map(strip);

/**
 * Waits until `subscription` has exactly `expected` (stripped), then a
 * little longer, so that a duplicate or a stray event would show.
 */
export async function expectExactly(subscription: Subscription, expected: Record<string, any>[], linger = 150) {
  await subscription.waitForEvents(expected.length);
  await new Promise((resolve) => setTimeout(resolve, linger));
  expect(seen(subscription)).toEqual(expected);
}

/**
 * Opens a WebSocket for `token` right away (not lazily), as a browser tab
 * does, and resolves once it is acknowledged. Closes are expected: the
 * server or the test may end it at any time.
 */
export async function openTab(server: TestServer, token: string): Promise<Client> {
  let acknowledged!: () => void;
  const connected = new Promise<void>((resolve) => (acknowledged = resolve));
  const client = wsClient(server, token, {
    lazy: false,
    onNonLazyError: () => {},
    on: { connected: () => acknowledged() },
  });
  await connected;
  return client;
}

/**
 * Subscribes over SSE (graphql-sse, distinct connections), as a browser
 * without WebSocket would. Resolves once the server counts it as live.
 */
export async function subscribeSse(
  server: TestServer,
  token: string,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<Pick<Subscription, 'events' | 'errors' | 'completed' | 'isCompleted'>> {
  const before = (await health(server)).body.subscriptions;
  const client = createSseClient({
    url: server.graphqlUrl,
    headers: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
  });
  dispose(() => client.dispose());
  const events: any[] = [];
  const errors: unknown[] = [];
  let done = false;
  let resolveCompleted!: () => void;
  const completed = new Promise<void>((resolve) => (resolveCompleted = resolve));
  const finish = () => {
    done = true;
    resolveCompleted();
  };
  const stop = client.subscribe<Record<string, unknown>>(
    { query, variables },
    {
      next: (result) => {
        if (result.errors) errors.push(...result.errors);
        if (result.data) events.push(Object.values(result.data)[0]);
      },
      error: (error) => {
        errors.push(error);
        finish();
      },
      complete: finish,
    },
  );
  dispose(stop);
  const deadline = Date.now() + 5000;
  while (!done && (await health(server)).body.subscriptions <= before) {
    if (Date.now() > deadline) throw new Error('SSE subscription did not become live within 5 s');
    await settle(10);
  }
  return { events, errors, completed, isCompleted: () => done };
}

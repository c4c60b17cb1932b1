import { z } from 'zod';
import { dateTime, eventOf, graphqlEnum, id, unread } from '../events/payload.js';
import type { MessageStatus, ResolversParentTypes, ResolversUnionTypes } from '../generated/graphql.js';
import type { ConversationRecord } from './model.js';

/** What `conversationEvents` streams, as the GraphQL union. */
export type ConversationEvent = ResolversUnionTypes<ResolversParentTypes>['ConversationEvent'];

/**
 * An event as published on a conversation's channel: the GraphQL event
 * plus `audience`, the members it was published for (the conversation's
 * members as the publisher saw them; for `MembersChanged`, those before and
 * after). A subscriber outside the audience never receives it, so an event
 * published after someone's removal cannot reach them even if it overtakes
 * `MembersChanged` on the way. GraphQL never exposes `audience`.
 */
export type ConversationEventPayload = ConversationEvent & { audience: string[] };

/** What `inboxEvents` streams to one viewer. */
export type InboxEvent = ResolversUnionTypes<ResolversParentTypes>['InboxEvent'];

/**
 * `UnreadCountChanged` as published: no count in it. Each subscriber's own
 * count is derived when its `unreadCount` is resolved (messages of others
 * after their read pointer, up to `asOfSeq`: the count as of the event).
 * `unreadAt`: delivered only to those whose read pointer is below it (a
 * deleted message they had not read).
 */
export interface UnreadCountChangedPayload {
  __typename: 'UnreadCountChanged';
  conversationId: string;
  asOfSeq: number;
  unreadAt?: number;
  audience: string[];
  occurredAt: string;
}

/**
 * An inbox event as published on its organisation's inbox channel: once,
 * for the members in `audience`, however many they are. Unread counts are
 * derived as resolved for each subscriber (a conversation's, up to its
 * `lastMessageSeq`), so a send writes and publishes nothing per member.
 */
export type InboxEventPayload =
  | { __typename: 'ConversationUpdated'; conversation: ConversationRecord; audience: string[]; occurredAt: string }
  | UnreadCountChangedPayload;

const messageStatus = graphqlEnum<MessageStatus>({
  QUEUED: true,
  SENT: true,
  DELIVERED: true,
  READ: true,
  FAILED: true,
});

/** A `MessageRecord` as events carry it: what the `Message` fields read. */
const message = z.object({
  id,
  orgId: unread<string>(),
  conversationId: id,
  seq: unread<number>(),
  senderId: id,
  body: z.string(),
  status: messageStatus,
  reactions: z.array(z.object({ emoji: z.string(), userIds: z.array(id) })),
  clientMessageId: z.string().nullable(),
  createdAt: dateTime,
  editedAt: dateTime.nullable(),
  deleted: z.boolean(),
});

/** A `ConversationRecord` as `ConversationUpdated` carries it (the field resolvers read `orgId`, the members, the last message). */
const conversation = z.object({
  id,
  orgId: id,
  title: z.string().nullable(),
  memberIds: z.array(id),
  creatorId: id,
  createdAt: dateTime,
  lastMessageId: id.nullable(),
  lastMessageSeq: z.int().nonnegative(),
  lastActivityAt: dateTime,
});

/** Every conversation event is published with its audience, which each subscriber's filter reads. */
const audience = z.array(z.string());

/** What a conversation's channel may carry: checked by the bus before any subscriber's filter sees it. */
export const conversationEventSchema = z.discriminatedUnion('__typename', [
  eventOf('MessageAdded', { audience, message }),
  eventOf('MessageEdited', { audience, message }),
  eventOf('MessageDeleted', { audience, messageId: id }),
  eventOf('ReactionsChanged', { audience, message }),
  eventOf('MessageStatusChanged', { audience, messageId: id, status: messageStatus }),
  eventOf('MessagesRead', { audience, userId: id, upToMessageId: id }),
  eventOf('TypingChanged', { audience, userId: id, isTyping: z.boolean() }),
  eventOf('MembersChanged', { audience, memberIds: z.array(id) }),
]);

/** What an organisation's inbox channel may carry. */
export const inboxEventSchema = z.discriminatedUnion('__typename', [
  eventOf('UnreadCountChanged', {
    audience,
    conversationId: id,
    asOfSeq: z.int().nonnegative(),
    unreadAt: z.int().positive().optional(),
  }),
  eventOf('ConversationUpdated', { audience, conversation }),
]);

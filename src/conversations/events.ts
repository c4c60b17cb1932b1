import { z } from 'zod';
import { dateTime, eventOf, graphqlEnum, id, unread } from '../events/payload.js';
import type { MessageStatus, ResolversParentTypes, ResolversUnionTypes } from '../generated/graphql.js';
import type { ConversationRecord } from './model.js';

/** What `conversationEvents` streams, as the GraphQL union. */
export type ConversationEvent = ResolversUnionTypes<ResolversParentTypes>['ConversationEvent'];

/**
 * Whom a conversation's event is for, named without listing the members
 * (a room's events cost the same whatever its size): `membersVersion`, the
 * members at that version of the conversation's membership (see
 * `ConversationRecord.membersVersion`; a send commits only while the
 * conversation still has it, so it names exactly the members the event was
 * for); or `audience`, those users by id (a membership change's, which
 * reaches those leaving too; one member's own read). Every event has one.
 * GraphQL never exposes either.
 */
export interface Addressing {
  membersVersion?: number;
  audience?: string[];
}

/**
 * An event as published on a conversation's channel: the GraphQL event
 * and its {@link Addressing}. A subscriber is a member when it subscribes
 * and ends with the `MembersChanged` that removes them (events on one
 * channel arrive in the order they were written), so it receives events
 * addressed by version and those whose `audience` names them.
 */
export type ConversationEventPayload = ConversationEvent & Addressing;

/** What `inboxEvents` streams to one viewer. */
export type InboxEvent = ResolversUnionTypes<ResolversParentTypes>['InboxEvent'];

/**
 * `UnreadCountChanged` as published: no count in it. Each subscriber's own
 * count is derived when its `unreadCount` is resolved (messages of others
 * after their read pointer, up to `asOfSeq`: the count as of the event).
 * `unreadAt`: delivered only to those whose read pointer is below it (a
 * deleted message they had not read). `except`: not for this member (a
 * message's sender, whose count it does not change).
 */
export interface UnreadCountChangedPayload extends Addressing {
  __typename: 'UnreadCountChanged';
  conversationId: string;
  asOfSeq: number;
  unreadAt?: number;
  except?: string;
  occurredAt: string;
}

/**
 * A conversation as `ConversationUpdated` carries it: its members only when
 * they changed (creation, membership changes); otherwise each process fills
 * them in from its members of the event's `membersVersion` (see
 * ./memberships.ts), so a send's events carry no member list.
 */
export type PublishedConversation = Omit<ConversationRecord, 'memberIds'> & { memberIds?: string[] };

/**
 * An inbox event as published on its organisation's inbox channel: once,
 * however many members the conversation has (see {@link Addressing}).
 * Unread counts are derived as resolved for each subscriber (a
 * conversation's, up to its `lastMessageSeq`), so a send writes and
 * publishes nothing per member.
 */
export type InboxEventPayload =
  | ({ __typename: 'ConversationUpdated'; conversation: PublishedConversation; occurredAt: string } & Addressing)
  | UnreadCountChangedPayload;

/** An inbox event as one subscriber receives it: the conversation with its members. */
export type DeliveredInboxEvent =
  | { __typename: 'ConversationUpdated'; conversation: ConversationRecord; occurredAt: string }
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
  memberIds: z.array(id).optional(),
  memberCount: z.int().nonnegative().optional(),
  membersVersion: z.int().nonnegative().optional(),
  creatorId: id,
  createdAt: dateTime,
  lastMessageId: id.nullable(),
  lastMessageSeq: z.int().nonnegative(),
  lastActivityAt: dateTime,
});

/** {@link Addressing}, which each subscriber's filter reads: checked here, and one of the two required below. */
const addressing = { audience: z.array(z.string()).optional(), membersVersion: z.int().nonnegative().optional() };
const isAddressed = (event: Addressing) => event.audience !== undefined || event.membersVersion !== undefined;
const unaddressed = { message: 'an event names its audience or its membersVersion' };

/** What a conversation's channel may carry: checked by the bus before any subscriber's filter sees it. */
export const conversationEventSchema = z
  .discriminatedUnion('__typename', [
    eventOf('MessageAdded', { ...addressing, message }),
    eventOf('MessageEdited', { ...addressing, message }),
    eventOf('MessageDeleted', { ...addressing, messageId: id }),
    eventOf('ReactionsChanged', { ...addressing, message }),
    eventOf('MessageStatusChanged', { ...addressing, messageId: id, status: messageStatus }),
    eventOf('MessagesRead', { ...addressing, userId: id, upToMessageId: id }),
    eventOf('TypingChanged', { ...addressing, userId: id, isTyping: z.boolean() }),
    eventOf('MembersChanged', { ...addressing, memberIds: z.array(id) }),
  ])
  .refine(isAddressed, unaddressed);

/** What an organisation's inbox channel may carry. */
export const inboxEventSchema = z
  .discriminatedUnion('__typename', [
    eventOf('UnreadCountChanged', {
      ...addressing,
      conversationId: id,
      asOfSeq: z.int().nonnegative(),
      unreadAt: z.int().positive().optional(),
      except: id.optional(),
    }),
    eventOf('ConversationUpdated', { ...addressing, conversation }),
  ])
  .refine(isAddressed, unaddressed);

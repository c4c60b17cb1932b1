import type { EventBus } from '../events/bus.js';
import { changeEvent } from '../events/change-event.js';
import { topics } from '../events/topics.js';
import { now } from '../lib/ids.js';
import type { ConversationEvent, InboxEvent } from './events.js';
import type { ConversationRecord } from './model.js';
import type { ConversationStore } from './store.js';

/**
 * Publishing for the conversations domain: conversation events go to the
 * conversation's channel stamped with their audience, inbox events to each
 * member's own channel.
 */
export function createConversationPublisher(bus: EventBus, store: ConversationStore) {
  const inboxes = (orgId: string, userIds: readonly string[], event: (userId: string) => Promise<InboxEvent>) =>
    Promise.all(userIds.map(async (userId) => bus.publish(topics.inbox(orgId, userId), await event(userId))));

  /** A conversation event for its subscribers among `audience` (default: its members), to record with a write. */
  const conversationEvent = (
    conversation: ConversationRecord,
    event: ConversationEvent,
    audience: string[] = conversation.memberIds,
  ) => changeEvent(topics.conversation(conversation.orgId, conversation.id), { ...event, audience });

  return {
    conversationEvent,

    /** To the conversation's subscribers among `audience` (default: its members). */
    conversation(conversation: ConversationRecord, event: ConversationEvent, audience = conversation.memberIds) {
      return bus.publish(topics.conversation(conversation.orgId, conversation.id), { ...event, audience });
    },

    /**
     * `ConversationUpdated` to each member's inbox for a conversation nobody
     * has read anything of yet (it was just created), to record with its insert.
     */
    conversationCreated(conversation: ConversationRecord) {
      return conversation.memberIds.map((userId) =>
        changeEvent(topics.inbox(conversation.orgId, userId), {
          __typename: 'ConversationUpdated',
          conversation: { ...conversation, unreadSnapshot: { userId, count: 0 } },
          occurredAt: conversation.createdAt,
        }),
      );
    },

    /**
     * `ConversationUpdated` to the inboxes of `userIds` (default: the
     * members), each with that member's unread count as of now.
     */
    conversationUpdated(conversation: ConversationRecord, userIds: readonly string[] = conversation.memberIds) {
      const occurredAt = now();
      return inboxes(conversation.orgId, userIds, async (userId) => ({
        __typename: 'ConversationUpdated',
        conversation: conversation.memberIds.includes(userId)
          ? { ...conversation, unreadSnapshot: { userId, count: await store.unreadCount(conversation.id, userId) } }
          : conversation,
        occurredAt,
      }));
    },

    /** `UnreadCountChanged` with each user's current count to their inbox. */
    unreadCountChanged(conversation: ConversationRecord, userIds: readonly string[]) {
      return inboxes(conversation.orgId, userIds, async (userId) => ({
        __typename: 'UnreadCountChanged',
        conversationId: conversation.id,
        unreadCount: await store.unreadCount(conversation.id, userId),
        occurredAt: now(),
      }));
    },
  };
}

/** Publishing for the conversations domain. */
export type ConversationPublisher = ReturnType<typeof createConversationPublisher>;

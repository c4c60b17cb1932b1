import type { EventBus } from '../events/bus.js';
import { changeEvent } from '../events/change-event.js';
import { topics } from '../events/topics.js';
import { now } from '../lib/ids.js';
import type { ChangeEvent } from '../storage/index.js';
import type { ConversationEvent, InboxEventPayload } from './events.js';
import type { ConversationRecord } from './model.js';

/**
 * Publishing for the conversations domain: conversation events go to the
 * conversation's channel, inbox events to the organisation's inbox
 * channel, each once, stamped with its audience (whom subscribers let
 * through). Nothing here reads or writes per member.
 */
export function createConversationPublisher(bus: EventBus) {
  /** A conversation event for its subscribers among `audience` (default: its members), to record with a write. */
  const conversationEvent = (
    conversation: ConversationRecord,
    event: ConversationEvent,
    audience: string[] = conversation.memberIds,
  ) => changeEvent(topics.conversation(conversation.orgId, conversation.id), { ...event, audience });

  /** `ConversationUpdated` for the inboxes of `audience` (default: the members), to record with a write. */
  const conversationUpdated = (
    conversation: ConversationRecord,
    audience: readonly string[] = conversation.memberIds,
  ): ChangeEvent =>
    changeEvent(topics.inbox(conversation.orgId), {
      __typename: 'ConversationUpdated',
      conversation,
      audience: [...audience],
      occurredAt: now(),
    });

  /**
   * `UnreadCountChanged` for the inboxes of `audience`, each count read as
   * delivered, up to `asOfSeq` (default: the conversation's last message);
   * with `unreadAt`, only for those who had not read that far.
   */
  const unreadCountChanged = (
    conversation: ConversationRecord,
    audience: readonly string[],
    { asOfSeq = conversation.lastMessageSeq, unreadAt }: { asOfSeq?: number; unreadAt?: number } = {},
  ): ChangeEvent => {
    const event: InboxEventPayload = {
      __typename: 'UnreadCountChanged',
      conversationId: conversation.id,
      asOfSeq,
      audience: [...audience],
      occurredAt: now(),
    };
    if (unreadAt !== undefined) event.unreadAt = unreadAt;
    return changeEvent(topics.inbox(conversation.orgId), event);
  };

  const publish = (event: ChangeEvent) => bus.publish(event.channel, event.payload);

  return {
    conversationEvent,
    conversationUpdated,
    unreadCountChanged,

    /** To the conversation's subscribers among `audience` (default: its members). */
    conversation(conversation: ConversationRecord, event: ConversationEvent, audience = conversation.memberIds) {
      return publish(conversationEvent(conversation, event, audience));
    },

    /** Publishes `ConversationUpdated` now (see {@link conversationUpdated}). */
    publishConversationUpdated: (conversation: ConversationRecord, audience?: readonly string[]) =>
      publish(conversationUpdated(conversation, audience)),

    /** Publishes `UnreadCountChanged` now (see {@link unreadCountChanged}). */
    publishUnreadCountChanged: (
      conversation: ConversationRecord,
      audience: readonly string[],
      options?: { asOfSeq?: number; unreadAt?: number },
    ) => publish(unreadCountChanged(conversation, audience, options)),
  };
}

/** Publishing for the conversations domain. */
export type ConversationPublisher = ReturnType<typeof createConversationPublisher>;

import type { EventBus } from '../events/bus.js';
import { changeEvent } from '../events/change-event.js';
import { topics } from '../events/topics.js';
import { now } from '../lib/ids.js';
import type { ChangeEvent } from '../storage/index.js';
import type { Addressing, ConversationEvent, InboxEventPayload, PublishedConversation } from './events.js';
import type { ConversationRecord } from './model.js';

/** An event for the conversation's members at its current membership version, or for `audience` when given. */
const addressed = (conversation: ConversationRecord, audience?: readonly string[]): Addressing =>
  audience ? { audience: [...audience] } : { membersVersion: conversation.membersVersion ?? 0 };

/**
 * Publishing for the conversations domain: conversation events go to the
 * conversation's channel, inbox events to the organisation's inbox
 * channel, each once, addressed by the conversation's membership version
 * (or an explicit audience: see `Addressing`). Nothing here reads, writes
 * or lists per member unless the members changed.
 */
export function createConversationPublisher(bus: EventBus) {
  /** A conversation event for its members (or `audience`), to record with a write. */
  const conversationEvent = (conversation: ConversationRecord, event: ConversationEvent, audience?: string[]) =>
    changeEvent(topics.conversation(conversation.orgId, conversation.id), {
      ...event,
      ...addressed(conversation, audience),
    });

  /**
   * `ConversationUpdated` for the members' inboxes (or `audience`'s), to
   * record with a write. The conversation goes without its member list
   * unless `members` (or an `audience`) says it changed: each process knows
   * the members of its version (./memberships.ts).
   */
  const conversationUpdated = (
    conversation: ConversationRecord,
    { members = false, audience }: { members?: boolean; audience?: readonly string[] } = {},
  ): ChangeEvent => {
    const published: PublishedConversation = { ...conversation, membersVersion: conversation.membersVersion ?? 0 };
    if (!members && !audience) delete published.memberIds;
    return changeEvent(topics.inbox(conversation.orgId), {
      __typename: 'ConversationUpdated',
      conversation: published,
      ...addressed(conversation, audience),
      occurredAt: now(),
    });
  };

  /**
   * `UnreadCountChanged` for the members' inboxes but `except` (or for
   * `audience`), each count read as delivered, up to `asOfSeq` (default: the
   * conversation's last message); with `unreadAt`, only for those who had
   * not read that far.
   */
  const unreadCountChanged = (
    conversation: ConversationRecord,
    to: { except: string } | { audience: readonly string[] },
    { asOfSeq = conversation.lastMessageSeq, unreadAt }: { asOfSeq?: number; unreadAt?: number } = {},
  ): ChangeEvent => {
    const event: InboxEventPayload = {
      __typename: 'UnreadCountChanged',
      conversationId: conversation.id,
      asOfSeq,
      ...('audience' in to ? addressed(conversation, to.audience) : { ...addressed(conversation), except: to.except }),
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

    /** To the conversation's subscribers (or those among `audience`). */
    conversation(conversation: ConversationRecord, event: ConversationEvent, audience?: string[]) {
      return publish(conversationEvent(conversation, event, audience));
    },

    /** Publishes `ConversationUpdated` now (see {@link conversationUpdated}). */
    publishConversationUpdated: (
      conversation: ConversationRecord,
      options?: { members?: boolean; audience?: readonly string[] },
    ) => publish(conversationUpdated(conversation, options)),

    /** Publishes `UnreadCountChanged` now (see {@link unreadCountChanged}). */
    publishUnreadCountChanged: (
      conversation: ConversationRecord,
      to: { except: string } | { audience: readonly string[] },
      options?: { asOfSeq?: number; unreadAt?: number },
    ) => publish(unreadCountChanged(conversation, to, options)),
  };
}

/** Publishing for the conversations domain. */
export type ConversationPublisher = ReturnType<typeof createConversationPublisher>;

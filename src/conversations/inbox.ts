import type { Viewer } from '../auth/viewer.js';
import { offsetOf, tagOffset } from '../events/offsets.js';
import type { EventSubscription } from '../events/subscribe.js';
import type { InboxEvent, InboxEventPayload } from './events.js';
import type { ConversationStore } from './store.js';

/** Each event's audience as a set, made once per event (shared by every subscriber of this process). */
const audiences = new WeakMap<InboxEventPayload, ReadonlySet<string>>();

/** Whether an inbox event was published for the viewer. */
export function isInboxAudience(viewer: Viewer, event: InboxEventPayload): boolean {
  let audience = audiences.get(event);
  if (!audience) audiences.set(event, (audience = new Set(event.audience)));
  return audience.has(viewer.id);
}

/**
 * The viewer's inbox events from the organisation's inbox channel (already
 * filtered to their audience): each with the viewer's own unread count,
 * read as it is delivered, as of the event. An `UnreadCountChanged` about
 * a message the viewer had already read (`unreadAt`) is skipped. `return()`
 * ends the underlying subscription at once, even while a count is read.
 */
export function viewerInbox(
  viewer: Viewer,
  events: EventSubscription<InboxEventPayload>,
  store: ConversationStore,
): EventSubscription<InboxEvent> {
  const personalise = async (event: InboxEventPayload): Promise<InboxEvent | undefined> => {
    if (event.__typename === 'ConversationUpdated') {
      const { conversation, occurredAt } = event;
      if (!conversation.memberIds.includes(viewer.id))
        return { __typename: event.__typename, conversation, occurredAt };
      const { count } = await store.unreadCount(conversation.id, viewer.id, conversation.lastMessageSeq);
      return {
        __typename: event.__typename,
        conversation: { ...conversation, unreadSnapshot: { userId: viewer.id, count } },
        occurredAt,
      };
    }
    const { count, readSeq } = await store.unreadCount(event.conversationId, viewer.id, event.asOfSeq);
    if (event.unreadAt !== undefined && readSeq >= event.unreadAt) return undefined;
    return {
      __typename: event.__typename,
      conversationId: event.conversationId,
      unreadCount: count,
      occurredAt: event.occurredAt,
    };
  };

  const next = async (): Promise<IteratorResult<InboxEvent>> => {
    for (;;) {
      const result = await events.next();
      if (result.done) return { done: true, value: undefined };
      const personal = await personalise(result.value);
      if (!personal) continue;
      const offset = offsetOf(result.value);
      if (offset !== undefined) tagOffset(personal, offset);
      return { done: false, value: personal };
    }
  };

  const inbox: EventSubscription<InboxEvent> = {
    next,
    return: async () => {
      await events.return();
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]: () => inbox,
  };
  return inbox;
}

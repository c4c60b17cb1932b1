import type { Viewer } from '../auth/viewer.js';
import type { EventSubscription } from '../events/subscribe.js';
import type { InboxEventPayload } from './events.js';
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
 * The viewer's inbox events (already filtered to their audience), less the
 * `UnreadCountChanged` about a deleted message the viewer had read already
 * (`unreadAt` at or below their read pointer), which changes nothing for
 * them. When the pointer cannot be read, the event is delivered (its count
 * then answers for itself). `return()` ends the subscription at once, even
 * while a pointer is read.
 */
export function withoutReadDeletions(
  viewer: Viewer,
  events: EventSubscription<InboxEventPayload>,
  store: ConversationStore,
): EventSubscription<InboxEventPayload> {
  const changesNothing = async (event: InboxEventPayload) => {
    if (event.__typename !== 'UnreadCountChanged' || event.unreadAt === undefined) return false;
    try {
      return (await store.readPointer(event.conversationId, viewer.id)).seq >= event.unreadAt;
    } catch {
      return false;
    }
  };
  const inbox: EventSubscription<InboxEventPayload> = {
    async next() {
      for (;;) {
        const result = await events.next();
        if (result.done || !(await changesNothing(result.value))) return result;
      }
    },
    return: () => events.return(),
    [Symbol.asyncIterator]: () => inbox,
  };
  return inbox;
}

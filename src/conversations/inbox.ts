import type { Viewer } from '../auth/viewer.js';
import { offsetOf, tagOffset } from '../events/offsets.js';
import type { EventSubscription } from '../events/subscribe.js';
import type { DeliveredInboxEvent, InboxEventPayload } from './events.js';
import type { Membership, Memberships } from './memberships.js';
import type { ConversationStore } from './store.js';

/** Each event's audience as a set, made once per event (shared by every subscriber of this process). */
const audiences = new WeakMap<InboxEventPayload, ReadonlySet<string>>();

const conversationOf = (event: InboxEventPayload) =>
  event.__typename === 'ConversationUpdated' ? event.conversation.id : event.conversationId;

/** Whether `membership` holds the viewer, for an event not meant for its `except`. */
const includes = (viewer: Viewer, event: InboxEventPayload, membership: Membership) =>
  membership.members.has(viewer.id) && !(event.__typename === 'UnreadCountChanged' && event.except === viewer.id);

/**
 * Whether an inbox event is the viewer's, as far as this process can tell
 * at once: by its `audience`, or by the members of the version it names
 * when `memberships` knows them; `undefined` when it does not (the
 * subscriber then reads the conversation: {@link inboxOf}). A member list
 * an event carries teaches `memberships` nothing: events come from Redis
 * (untrusted), and one forged list would address the conversation's later,
 * real events to whoever it names. Members are only ever read from storage.
 */
export function inboxVerdict(viewer: Viewer, event: InboxEventPayload, memberships: Memberships): boolean | undefined {
  if (event.audience) {
    let audience = audiences.get(event);
    if (!audience) audiences.set(event, (audience = new Set(event.audience)));
    return audience.has(viewer.id);
  }
  const membership = memberships.at(conversationOf(event), event.membersVersion ?? 0);
  return membership && includes(viewer, event, membership);
}

/** Events filled in with their version's members, shared by the subscribers of this process. */
const filled = new WeakMap<InboxEventPayload, DeliveredInboxEvent>();

/** The event as delivered: a `ConversationUpdated` with its conversation's members (those of `membership`). */
function delivered(event: InboxEventPayload, membership: Membership | undefined, shared: boolean): DeliveredInboxEvent {
  if (event.__typename !== 'ConversationUpdated') return event;
  const { memberIds } = event.conversation;
  if (memberIds) return event as DeliveredInboxEvent;
  let result = shared ? filled.get(event) : undefined;
  if (!result) {
    result = { ...event, conversation: { ...event.conversation, memberIds: membership?.memberIds ?? [] } };
    // The offset goes with it (resume, the fan-out's frames); one object per event where it can be shared.
    const offset = offsetOf(event);
    if (offset) tagOffset(result, offset);
    if (shared) filled.set(event, result);
  }
  return result;
}

/**
 * The viewer's inbox: the events the subscription's filter
 * ({@link inboxVerdict}) let through, those it could not decide settled by
 * reading the conversation (the members of the event's version if it is
 * still current; if the members changed since, only those who are members
 * now receive it, so nobody removed ever does), each `ConversationUpdated`
 * with its members, less the `UnreadCountChanged` about a deleted message
 * the viewer had read already (`unreadAt` at or below their read pointer),
 * which changes nothing for them. When the pointer cannot be read, the
 * event is delivered (its count then answers for itself). `return()` ends
 * the subscription at once, even while something is read.
 */
export function inboxOf(
  viewer: Viewer,
  events: EventSubscription<InboxEventPayload>,
  { store, memberships }: { store: ConversationStore; memberships: Memberships },
): EventSubscription<DeliveredInboxEvent> {
  /** Reads the conversation's members now; undefined (the event is not delivered) when that fails. */
  const current = (id: string, version: number) => memberships.current(id, version).catch(() => undefined);
  const settle = async (event: InboxEventPayload): Promise<DeliveredInboxEvent | undefined> => {
    const id = conversationOf(event);
    const version = event.membersVersion ?? 0;
    const verdict = inboxVerdict(viewer, event, memberships);
    if (verdict === false) return undefined;
    const lacksMembers = event.__typename === 'ConversationUpdated' && !event.conversation.memberIds;
    if (verdict === true && event.audience) {
      return delivered(event, lacksMembers ? await current(id, version) : undefined, false);
    }
    if (verdict === true) return delivered(event, memberships.at(id, version), true);
    const now = await current(id, version);
    if (!now || !includes(viewer, event, now)) return undefined;
    return delivered(event, now, now.version === version);
  };
  const changesNothing = async (event: DeliveredInboxEvent) => {
    if (event.__typename !== 'UnreadCountChanged' || event.unreadAt === undefined) return false;
    try {
      return (await store.readPointer(event.conversationId, viewer.id)).seq >= event.unreadAt;
    } catch {
      return false;
    }
  };
  const inbox: EventSubscription<DeliveredInboxEvent> = {
    async next() {
      for (;;) {
        const result = await events.next();
        if (result.done) return result;
        const event = await settle(result.value);
        if (event && !(await changesNothing(event))) return { done: false, value: event };
      }
    },
    return: () => events.return() as Promise<IteratorResult<DeliveredInboxEvent>>,
    [Symbol.asyncIterator]: () => inbox,
  };
  return inbox;
}

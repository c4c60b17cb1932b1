import { hasRole, type Viewer } from '../auth/viewer.js';
import { forbidden } from '../errors.js';
import type { ConversationEventPayload } from './events.js';
import type { ConversationRecord, MessageRecord } from './model.js';
import type { ConversationStore } from './store.js';

/**
 * Conversations, their messages and their events are for members only.
 * Everyone else, whatever their role and whichever organisation, reads a
 * conversation as missing. Whether the viewer is a member is one lookup
 * (`ConversationStore.isMember`), not a read of the member list.
 */
export async function isMember(
  viewer: Viewer,
  conversation: ConversationRecord,
  stores: (orgId: string) => Pick<ConversationStore, 'isMember'>,
): Promise<boolean> {
  if (conversation.orgId !== viewer.orgId) return false;
  if (readByMember.get(conversation) === viewer.id) return true;
  return stores(viewer.orgId).isMember(conversation, viewer.id);
}

/**
 * Records read for a viewer who was a member at that read (by the read
 * itself: `getVisible`, the conversation list): the same request's field
 * resolvers (`unreadCount`, `lastMessage`) need not look again, one lookup
 * per conversation of a page instead of three. Keyed by the record object,
 * a fresh copy per read that lives as long as the request's result; never
 * a record an event carries.
 */
const readByMember = new WeakMap<ConversationRecord, string>();

/** Notes that `viewer` was a member of `conversation` when it was read (see {@link isMember}); returns it. */
export function readAsMember<T extends ConversationRecord>(viewer: Viewer, conversation: T): T {
  readByMember.set(conversation, viewer.id);
  return conversation;
}

/** Members may remove themselves; removing others takes the creator or an `admin` member. */
export function assertCanRemoveMember(viewer: Viewer, conversation: ConversationRecord, userId: string): void {
  if (userId === viewer.id || conversation.creatorId === viewer.id || hasRole(viewer, 'admin')) return;
  throw forbidden('Only the conversation\u2019s creator or an admin may remove other members');
}

/** Only the sender edits a message. */
export function assertCanEditMessage(viewer: Viewer, message: MessageRecord): void {
  if (message.senderId !== viewer.id) throw forbidden('Only the sender may edit a message');
}

/** The sender, or an `admin` member (moderation), deletes a message. */
export function assertCanDeleteMessage(viewer: Viewer, message: MessageRecord): void {
  if (message.senderId !== viewer.id && !hasRole(viewer, 'admin')) {
    throw forbidden('Only the sender or an admin may delete a message');
  }
}

/** Reporting delivery status is the gateway's job: `service` or `admin`. */
export function assertCanReportMessageStatus(viewer: Viewer): void {
  if (!hasRole(viewer, 'service', 'admin')) {
    throw forbidden('Reporting message status needs the service or admin role');
  }
}

/**
 * Per-event authorization of a `conversationEvents` subscriber, who was a
 * member when subscribing and whose subscription ends with the
 * `MembersChanged` removing them (see {@link ConversationEventPayload}):
 * events addressed to the members, or whose `audience` names them, and not
 * their own typing.
 */
export function canReceiveConversationEvent(viewer: Viewer, event: ConversationEventPayload): boolean {
  if (event.audience && !event.audience.includes(viewer.id)) return false;
  return !(event.__typename === 'TypingChanged' && event.userId === viewer.id);
}

/** The event that ends a subscriber's access: the membership change that removed them. */
export function revokesConversationAccess(viewer: Viewer, event: ConversationEventPayload): boolean {
  return event.__typename === 'MembersChanged' && !event.memberIds.includes(viewer.id);
}

import type { ConversationEventPayload, InboxEvent } from '../conversations/events.js';
import type { PresenceEvent } from '../presence/events.js';
import type { GatewayCommand, SessionEvent } from '../sessions/events.js';
import { channel } from './channel.js';

/** User ids come from tokens and may hold any character: encoded, they cannot forge another channel's name. */
const user = (userId: string) => encodeURIComponent(userId);

/**
 * Every channel the server publishes on, with the type of its payload.
 * Names start with the organisation, so no event can cross tenants by
 * construction; workers publishing over Redis use the same names.
 */
export const topics = {
  /** Events of one messaging-gateway session. */
  session: (orgId: string, sessionId: string) => channel<SessionEvent>(`org:${orgId}:session:${sessionId}`),
  /** Commands for the gateway serving an organisation's sessions. */
  gatewayCommands: (orgId: string) => channel<GatewayCommand>(`org:${orgId}:gateway`),
  /** Events of one conversation, for its members. */
  conversation: (orgId: string, conversationId: string) =>
    channel<ConversationEventPayload>(`org:${orgId}:conversation:${conversationId}`),
  /** One user's inbox: unread counts and conversation changes. */
  inbox: (orgId: string, userId: string) => channel<InboxEvent>(`org:${orgId}:inbox:${user(userId)}`),
  /** One user's presence transitions. */
  presence: (orgId: string, userId: string) => channel<PresenceEvent>(`org:${orgId}:presence:${user(userId)}`),
};

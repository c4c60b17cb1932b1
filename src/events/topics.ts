import type { CampaignEvent, CampaignWork } from '../campaigns/events.js';
import type { ConversationEventPayload, InboxEvent } from '../conversations/events.js';
import { keyPart } from '../lib/keys.js';
import type { NotificationEvent } from '../notifications/events.js';
import type { PresenceEvent } from '../presence/events.js';
import type { GatewayCommand, SessionEvent } from '../sessions/events.js';
import type { TaskEvent } from '../tasks/events.js';
import { channel } from './channel.js';

/**
 * Every channel the server publishes on, with the type of its payload.
 * Names start with the organisation, so no event can cross tenants by
 * construction; workers publishing over Redis use the same names. Org and
 * user ids come from tokens and may hold any character: encoded with
 * `keyPart`, no id can forge another channel's name.
 *
 * The `internal:` channels are the exception: they carry work for backend
 * processes (gateways, campaign workers) that serve every organisation.
 * No GraphQL operation subscribes to them, and their payloads name the
 * organisation they concern.
 */
export const topics = {
  /** Events of one messaging-gateway session. */
  session: (orgId: string, sessionId: string) => channel<SessionEvent>(`org:${keyPart(orgId)}:session:${sessionId}`),
  /** Commands for the gateways, which serve every organisation's sessions (each command names its org). */
  gatewayCommands: () => channel<GatewayCommand>('internal:gateway:commands'),
  /** Events of one conversation, for its members. */
  conversation: (orgId: string, conversationId: string) =>
    channel<ConversationEventPayload>(`org:${keyPart(orgId)}:conversation:${conversationId}`),
  /** One user's inbox: unread counts and conversation changes. */
  inbox: (orgId: string, userId: string) => channel<InboxEvent>(`org:${keyPart(orgId)}:inbox:${keyPart(userId)}`),
  /** One user's presence transitions. */
  presence: (orgId: string, userId: string) =>
    channel<PresenceEvent>(`org:${keyPart(orgId)}:presence:${keyPart(userId)}`),
  /** Events of every task of an organisation; each subscriber filters by task and assignee. */
  tasks: (orgId: string) => channel<TaskEvent>(`org:${keyPart(orgId)}:tasks`),
  /** Events of one campaign, for every member of its organisation. */
  campaign: (orgId: string, campaignId: string) =>
    channel<CampaignEvent>(`org:${keyPart(orgId)}:campaign:${campaignId}`),
  /** Wakes idle campaign workers: a campaign became runnable. */
  campaignWork: () => channel<CampaignWork>('internal:campaigns:work'),
  /** One user's notification events. */
  notifications: (orgId: string, userId: string) =>
    channel<NotificationEvent>(`org:${keyPart(orgId)}:user:${keyPart(userId)}:notifications`),
};

import type { z } from 'zod';
import { adminCommandSchema, adminReplySchema, type AdminCommand, type AdminReply } from '../admin/events.js';
import { campaignEventSchema, campaignWorkSchema, type CampaignEvent, type CampaignWork } from '../campaigns/events.js';
import {
  conversationEventSchema,
  inboxEventSchema,
  type ConversationEventPayload,
  type InboxEventPayload,
} from '../conversations/events.js';
import { keyPart } from '../lib/keys.js';
import { notificationEventSchema, type NotificationEvent } from '../notifications/events.js';
import { presenceEventSchema, type PresenceEvent } from '../presence/events.js';
import {
  gatewayCommandSchema,
  sessionEventSchema,
  type GatewayCommand,
  type SessionEvent,
} from '../sessions/events.js';
import { statusRequestSchema, statusSampleSchema, type StatusRequest, type StatusSample } from '../status/events.js';
import { taskEventSchema, type TaskEvent } from '../tasks/events.js';
import { channel, type Channel } from './channel.js';

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
  /** Every member's inbox events of an organisation's conversations, each for its audience (one publish per event). */
  inbox: (orgId: string) => channel<InboxEventPayload>(`org:${keyPart(orgId)}:inbox`),
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
  /** Admin API commands (list, disconnect, revoked), heard by every server instance (each names its org). */
  adminCommands: () => channel<AdminCommand>('internal:admin:commands'),
  /** Answers to one instance's admin commands. */
  adminReplies: (instance: string) => channel<AdminReply>(`internal:admin:replies:${keyPart(instance)}`),
  /** Status pages asking every instance for its figures about an organisation (each request names it). */
  statusRequests: () => channel<StatusRequest>('internal:status:requests'),
  /** Instances' figures about one organisation, for its admins' status pages. */
  status: (orgId: string) => channel<StatusSample>(`org:${keyPart(orgId)}:status`),
  /** One user's notification events. */
  notifications: (orgId: string, userId: string) =>
    channel<NotificationEvent>(`org:${keyPart(orgId)}:user:${keyPart(userId)}:notifications`),
};

/**
 * The payload schema of each kind of channel, declared by its domain. A
 * schema's output must be its channel's payload type: the compiler keeps
 * the two from drifting apart.
 */
const payloadSchemas: { [Kind in keyof typeof topics]: z.ZodType<PayloadOfTopic<Kind>> } = {
  session: sessionEventSchema,
  gatewayCommands: gatewayCommandSchema,
  conversation: conversationEventSchema,
  inbox: inboxEventSchema,
  presence: presenceEventSchema,
  tasks: taskEventSchema,
  campaign: campaignEventSchema,
  campaignWork: campaignWorkSchema,
  notifications: notificationEventSchema,
  adminCommands: adminCommandSchema,
  adminReplies: adminReplySchema,
  statusRequests: statusRequestSchema,
  status: statusSampleSchema,
};

type PayloadOfTopic<Kind extends keyof typeof topics> =
  ReturnType<(typeof topics)[Kind]> extends Channel<infer Payload> ? Payload : never;

/** One of the kinds of channel named by {@link topics}. */
export type ChannelKind = keyof typeof topics;

/** A channel's kind and the schema every payload on it must pass. */
export interface ChannelContract {
  kind: ChannelKind;
  schema: z.ZodType<unknown>;
}

/**
 * The kind of a channel, read back from its name (without the Redis
 * prefix); undefined for a name {@link topics} cannot make. Called once per
 * channel a process listens on, not per message.
 */
export function channelContract(name: string): ChannelContract | undefined {
  const kind = kindOf(name.split(':'));
  return kind && { kind, schema: payloadSchemas[kind] };
}

/** The contract of a channel someone listens on or consumes: a name {@link topics} cannot make is a programming error. */
export function requireChannelContract(name: string): ChannelContract {
  const contract = channelContract(name);
  if (!contract) throw new Error(`No payload schema for channel ${JSON.stringify(name)}: declare it in topics.ts`);
  return contract;
}

function kindOf(parts: string[]): ChannelKind | undefined {
  if (parts.length === 3 && parts[0] === 'internal') {
    if (parts[1] === 'gateway' && parts[2] === 'commands') return 'gatewayCommands';
    if (parts[1] === 'campaigns' && parts[2] === 'work') return 'campaignWork';
    if (parts[1] === 'admin' && parts[2] === 'commands') return 'adminCommands';
    if (parts[1] === 'status' && parts[2] === 'requests') return 'statusRequests';
    return undefined;
  }
  if (parts.length === 4 && parts[0] === 'internal') {
    return parts[1] === 'admin' && parts[2] === 'replies' ? 'adminReplies' : undefined;
  }
  if (parts[0] !== 'org') return undefined;
  if (parts.length === 3) {
    return parts[2] === 'tasks' || parts[2] === 'status' || parts[2] === 'inbox' ? parts[2] : undefined;
  }
  if (parts.length === 4) {
    const kind = parts[2];
    return kind === 'session' || kind === 'conversation' || kind === 'presence' || kind === 'campaign'
      ? kind
      : undefined;
  }
  if (parts.length === 5 && parts[2] === 'user' && parts[4] === 'notifications') return 'notifications';
  return undefined;
}

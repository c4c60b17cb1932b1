import { keyPart } from '../lib/keys.js';
import type { NotificationEvent } from '../notifications/events.js';
import type { GatewayCommand, SessionEvent } from '../sessions/events.js';
import type { TaskEvent } from '../tasks/events.js';
import { channel } from './channel.js';

/**
 * Every channel the server publishes on, with the type of its payload.
 * Names start with the organisation, so no event can cross tenants by
 * construction; workers publishing over Redis use the same names.
 */
export const topics = {
  /** Events of one messaging-gateway session. */
  session: (orgId: string, sessionId: string) => channel<SessionEvent>(`org:${keyPart(orgId)}:session:${sessionId}`),
  /** Commands for the gateway serving an organisation's sessions. */
  gatewayCommands: (orgId: string) => channel<GatewayCommand>(`org:${keyPart(orgId)}:gateway`),
  /** Events of every task of an organisation; each subscriber filters by task and assignee. */
  tasks: (orgId: string) => channel<TaskEvent>(`org:${keyPart(orgId)}:tasks`),
  /** One user's notification events (ids encoded: they come from tokens and may hold `:`). */
  notifications: (orgId: string, userId: string) =>
    channel<NotificationEvent>(`org:${keyPart(orgId)}:user:${keyPart(userId)}:notifications`),
};

import type { GatewayCommand, SessionEvent } from '../sessions/events.js';
import { channel } from './channel.js';

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
};

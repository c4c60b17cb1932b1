import type { CampaignEvent, CampaignWork } from '../campaigns/events.js';
import type { GatewayCommand, SessionEvent } from '../sessions/events.js';
import { channel } from './channel.js';

/**
 * Every channel the server publishes on, with the type of its payload.
 * Names start with the organisation, so no event can cross tenants by
 * construction; workers publishing over Redis use the same names.
 *
 * The `internal:` channels are the exception: they carry work for backend
 * processes (gateways, campaign workers) that serve every organisation.
 * No GraphQL operation subscribes to them, and their payloads name the
 * organisation they concern.
 */
export const topics = {
  /** Events of one messaging-gateway session. */
  session: (orgId: string, sessionId: string) => channel<SessionEvent>(`org:${orgId}:session:${sessionId}`),
  /** Commands for the gateway serving every organisation's sessions (each command names its org). */
  gatewayCommands: () => channel<GatewayCommand>('internal:gateway:commands'),
  /** Events of one campaign, for every member of its organisation. */
  campaign: (orgId: string, campaignId: string) => channel<CampaignEvent>(`org:${orgId}:campaign:${campaignId}`),
  /** Wakes idle campaign workers: a campaign became runnable. */
  campaignWork: () => channel<CampaignWork>('internal:campaigns:work'),
};

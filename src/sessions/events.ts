import type { ResolversParentTypes, ResolversUnionTypes } from '../generated/graphql.js';

/** What `sessionEvents` streams, exactly as published on the session's channel. */
export type SessionEvent = ResolversUnionTypes<ResolversParentTypes>['SessionEvent'];

/**
 * What the gateway is asked to do. Published on the gateways' command channel
 * (one for every organisation; the command names its org); the gateway (real
 * or simulated) answers with `reportSessionStatus`.
 */
export interface GatewayCommand {
  action: 'connect' | 'disconnect';
  sessionId: string;
  orgId: string;
  occurredAt: string;
}

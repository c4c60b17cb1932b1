import { z } from 'zod';
import { dateTime, eventOf, graphqlEnum, id } from '../events/payload.js';
import type { ResolversParentTypes, ResolversUnionTypes, SessionStatus } from '../generated/graphql.js';

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

const sessionStatus = graphqlEnum<SessionStatus>({
  DISCONNECTED: true,
  CONNECTING: true,
  QR_REQUIRED: true,
  CONNECTED: true,
  RECONNECTING: true,
  ERROR: true,
});

/** What a session's channel may carry: checked by the bus before any subscriber sees it. */
export const sessionEventSchema = z.discriminatedUnion('__typename', [
  eventOf('QrCodeUpdated', { sessionId: id, qrCode: z.string() }),
  eventOf('SessionStatusChanged', {
    sessionId: id,
    status: sessionStatus,
    phoneNumber: z.string().nullable(),
    displayName: z.string().nullable(),
  }),
  eventOf('SessionConnectionError', { sessionId: id, error: z.string() }),
  eventOf('SessionDeleted', { sessionId: id }),
]);

/** What the gateways' command channel may carry. */
export const gatewayCommandSchema = z.object({
  action: z.enum(['connect', 'disconnect']),
  sessionId: id,
  orgId: id,
  occurredAt: dateTime,
});

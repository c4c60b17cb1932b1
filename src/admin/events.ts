import { z } from 'zod';
import { dateTime, id } from '../events/payload.js';
import type { ConnectionSummary } from './registry.js';

/**
 * A question for every server instance: list an organisation's (or one
 * user's) connections, or close a user's and count them.
 */
export type AdminQuestion =
  | { kind: 'list'; orgId: string; userId: string | null; limit?: number }
  | { kind: 'disconnect'; orgId: string; userId: string; reason: string };

/**
 * What every server instance hears on the admin channel (pub/sub, not a
 * work queue: each instance acts on its own connections). Questions carry
 * a request id and are answered on the asking instance's reply channel;
 * `revoked` is not answered (the revocation is already stored).
 */
export type AdminCommand =
  | (AdminQuestion & { requestId: string; replyTo: string })
  | { kind: 'revoked'; orgId: string; userId: string; revokedAt: number };

/** One instance's answer to a `list` (its connections) or a `disconnect` (how many it closed). */
export type AdminReply =
  | { kind: 'list'; requestId: string; instance: string; connections: ConnectionSummary[] }
  | { kind: 'disconnect'; requestId: string; instance: string; closed: number };

const request = { requestId: id, replyTo: id, orgId: id };

/** What the admin channel may carry. */
export const adminCommandSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('list'),
    ...request,
    userId: id.nullable(),
    // Absent from an instance of an older version: no limit.
    limit: z.int().positive().optional(),
  }),
  z.object({ kind: z.literal('disconnect'), ...request, userId: id, reason: z.string().max(1000) }),
  z.object({ kind: z.literal('revoked'), orgId: id, userId: id, revokedAt: z.number().int().nonnegative() }),
]);

/** One connection as instances send it to each other (also in status samples: src/status/events.ts). */
export const connectionSummarySchema = z.object({
  id,
  userId: id,
  transport: z.enum(['websocket', 'sse']),
  instance: id,
  openedAt: dateTime,
  subscriptions: z.int().nonnegative(),
});

/** What an instance's reply channel may carry. */
export const adminReplySchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('list'), requestId: id, instance: id, connections: z.array(connectionSummarySchema) }),
  z.object({ kind: z.literal('disconnect'), requestId: id, instance: id, closed: z.int().nonnegative() }),
]);

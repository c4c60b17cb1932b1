import { z } from 'zod';
import { connectionSummarySchema } from '../admin/events.js';
import type { ConnectionSummary } from '../admin/registry.js';
import { dateTime, id } from '../events/payload.js';

/** Asks every instance for its figures about one organisation (a status page is watching it). */
export interface StatusRequest {
  orgId: string;
}

/** One instance's figures about one organisation, answered on that organisation's status channel. */
export interface StatusSample {
  instance: string;
  /** ISO 8601: when the instance took them. */
  at: string;
  /** Its open connections of the organisation: how many, and the first {@link MAX_LISTED_CONNECTIONS}. */
  connectionCount: number;
  connections: ConnectionSummary[];
  /** Live subscriptions on those connections. */
  subscriptions: number;
  /** Since the instance started (./counters.ts). */
  delivered: number;
  slowConsumers: number;
}

/** Connections an instance lists per sample; the count is always whole. */
export const MAX_LISTED_CONNECTIONS = 200;

const count = z.int().nonnegative();

/** What the status request channel may carry. */
export const statusRequestSchema = z.object({ orgId: id });

/** What an organisation's status channel may carry. */
export const statusSampleSchema = z.object({
  instance: id,
  at: dateTime,
  connectionCount: count,
  connections: z.array(connectionSummarySchema).max(MAX_LISTED_CONNECTIONS),
  subscriptions: count,
  delivered: count,
  slowConsumers: count,
});

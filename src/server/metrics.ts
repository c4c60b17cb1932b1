import { createStatusCounters, type StatusCounters } from '../status/counters.js';
import type { FanoutCounts } from './fanout.js';

/**
 * What the transports and the pipeline count as things happen, for
 * `/health` and `/metrics` (src/metrics reads it at scrape time): plain
 * numbers bumped in place, so counting costs the hot path an increment.
 */
export interface LiveCounts {
  /** Open WebSocket connections. */
  websockets: number;
  /** Open SSE streams. */
  sseStreams: number;
  /** Running subscription operations, over either transport. */
  subscriptions: number;
  /** The same, by root field (`conversationEvents`, …): bounded by the schema's subscription fields. */
  subscriptionsByField: Map<string, number>;
  /** The executions the WebSocket fan-out ran for the events it delivered. */
  fanout: FanoutCounts;
  /**
   * Events delivered and connections cut off as slow consumers, per
   * organisation and per transport: counted once, where they happen, and
   * read by both the status page and `/metrics`.
   */
  tallies: StatusCounters;
  /** Operations refused with `RATE_LIMITED`, by the limit that refused them. */
  rateLimited: { rate: number; subscriptionsPerConnection: number; connectionsPerUser: number };
  /** WebSockets refused before `connection_ack`, by close code (or HTTP status, for an upgrade refused). */
  refused: Map<number, number>;
}

/** Counters starting at zero. */
export function createLiveCounts(): LiveCounts {
  return {
    websockets: 0,
    sseStreams: 0,
    subscriptions: 0,
    subscriptionsByField: new Map(),
    fanout: { executions: 0 },
    tallies: createStatusCounters(),
    rateLimited: { rate: 0, subscriptionsPerConnection: 0, connectionsPerUser: 0 },
    refused: new Map(),
  };
}

/** A subscription started (+1) or ended (-1) on root field `field`. */
export function countSubscription(counts: LiveCounts, field: string, delta: 1 | -1): void {
  counts.subscriptions += delta;
  counts.subscriptionsByField.set(field, (counts.subscriptionsByField.get(field) ?? 0) + delta);
}

/** A WebSocket refused with `code`. */
export function countRefusal(counts: LiveCounts, code: number): void {
  counts.refused.set(code, (counts.refused.get(code) ?? 0) + 1);
}

/** What an instance has done for one organisation since it started. */
export interface OrgTally {
  /** Events taken by that organisation's subscriptions (one per subscriber and event). */
  delivered: number;
  /** Its connections cut off for not reading (WebSocket 4413, SSE stream dropped). */
  slowConsumers: number;
}

/** This instance's per-organisation tallies (see {@link createStatusCounters}). */
export type StatusCounters = ReturnType<typeof createStatusCounters>;

/**
 * Per-organisation counts of deliveries and slow-consumer cut-offs on this
 * instance, for the status page. Counted where the transports deliver (one
 * map lookup and an increment per event and subscriber), kept in process
 * only; rates are worked out by whoever reads two tallies apart.
 */
export function createStatusCounters() {
  const byOrg = new Map<string, OrgTally>();
  const tally = (orgId: string): OrgTally => {
    let found = byOrg.get(orgId);
    if (!found) byOrg.set(orgId, (found = { delivered: 0, slowConsumers: 0 }));
    return found;
  };
  return {
    /** One event taken by a subscription of `orgId`. */
    delivered(orgId: string): void {
      tally(orgId).delivered++;
    },
    /** A connection of `orgId` cut off for not reading. */
    slowConsumer(orgId: string): void {
      tally(orgId).slowConsumers++;
    },
    /** The tallies of `orgId` so far (zero for an organisation never seen). */
    of(orgId: string): OrgTally {
      return { ...(byOrg.get(orgId) ?? { delivered: 0, slowConsumers: 0 }) };
    },
  };
}

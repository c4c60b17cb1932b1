/** What an instance has done for one organisation since it started. */
export interface OrgTally {
  /** Events sent to that organisation's subscribers (one per subscriber and event). */
  delivered: number;
  /** Its connections cut off for not reading (WebSocket 4413, SSE stream dropped). */
  slowConsumers: number;
}

/**
 * Whether results of a subscription on root `field` count as deliveries:
 * all but the status page's own feed (`deploymentStatus`), whose snapshots
 * would otherwise show up in the figures they carry: watching would change
 * what is watched.
 */
export function countsAsDelivery(field: string): boolean {
  return field !== 'deploymentStatus';
}

/** The transports that deliver subscription events. */
export type Transport = 'websocket' | 'sse';

/** This instance's tallies (see {@link createStatusCounters}). */
export type StatusCounters = ReturnType<typeof createStatusCounters>;

/**
 * The one counting point of deliveries and slow-consumer cut-offs on this
 * instance: the transports count each here once (where the event is written
 * to its subscriber, where a connection is cut off), and both readers read
 * it: the status page per organisation (`of`), `/metrics` per transport
 * (`totals`). One map lookup and two increments per event and subscriber,
 * kept in process only; rates are worked out by whoever reads two tallies apart.
 */
export function createStatusCounters() {
  const byOrg = new Map<string, OrgTally>();
  const totals = {
    delivered: { websocket: 0, sse: 0 } satisfies Record<Transport, number>,
    slowConsumers: { websocket: 0, sse: 0 } satisfies Record<Transport, number>,
  };
  const tally = (orgId: string): OrgTally => {
    let found = byOrg.get(orgId);
    if (!found) byOrg.set(orgId, (found = { delivered: 0, slowConsumers: 0 }));
    return found;
  };
  return {
    /** Per transport, over every organisation: what `/metrics` exports. */
    totals: totals as {
      readonly delivered: Readonly<Record<Transport, number>>;
      readonly slowConsumers: Readonly<Record<Transport, number>>;
    },
    /** One event written to a subscriber of `orgId` over `transport`. */
    delivered(orgId: string, transport: Transport): void {
      tally(orgId).delivered++;
      totals.delivered[transport]++;
    },
    /** A connection cut off for not reading; `orgId` unknown for a socket cut off before it authenticated. */
    slowConsumer(transport: Transport, orgId: string | undefined): void {
      if (orgId !== undefined) tally(orgId).slowConsumers++;
      totals.slowConsumers[transport]++;
    },
    /** The tallies of `orgId` so far (zero for an organisation never seen). */
    of(orgId: string): OrgTally {
      return { ...(byOrg.get(orgId) ?? { delivered: 0, slowConsumers: 0 }) };
    },
  };
}

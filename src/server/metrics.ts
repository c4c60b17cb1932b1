/** Live counts for `/health`, kept by the transports and the subscription plugin. */
export interface LiveCounts {
  /** Open WebSocket connections. */
  websockets: number;
  /** Open SSE streams. */
  sseStreams: number;
  /** Running subscription operations, over either transport. */
  subscriptions: number;
}

/** Counters starting at zero. */
export function createLiveCounts(): LiveCounts {
  return { websockets: 0, sseStreams: 0, subscriptions: 0 };
}

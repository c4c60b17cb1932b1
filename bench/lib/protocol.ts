/** What the orchestrator and a client worker say to each other over IPC. */

export type ClientKind = 'graphql-transport-ws' | 'socket.io' | 'ws';

export interface ClientTarget {
  kind: ClientKind;
  /** Instance URLs (ws://…); connection i goes to urls[i % urls.length]. */
  urls: string[];
  /** HS256 secret the worker signs its users' tokens with. */
  secret: string;
  org: string;
  /** The organisation of each topic's subscribers (same order as `topics`); `org` for all when absent. */
  orgs?: string[];
  /**
   * Session ids (GraphQL) or rooms (Socket.IO, ws); the connection of user i
   * subscribes to topics[i % topics.length].
   */
  topics: string[];
  /** GraphQL subscription document (graphql-transport-ws only); its topic variable is `$sessionId`. */
  query?: string;
  /**
   * Distinct users the connections belong to: connection i is user
   * `i % users` (a room's members with several tabs each); default: one
   * user per connection.
   */
  users?: number;
}

export type ToWorker =
  | {
      type: 'connect';
      target: ClientTarget;
      count: number;
      /** Index of the first user, so every connection of a run is a distinct user. */
      firstUser: number;
      concurrency: number;
      /** Sign every token first, then open all connections at once (a reconnect storm). */
      presign?: boolean;
    }
  | { type: 'arm'; run: number; expected: number }
  | { type: 'stats' }
  | { type: 'report' }
  | { type: 'exit' };

export interface WorkerStats {
  /** Connections subscribed (protocol handshake and subscribe done). */
  open: number;
  failed: number;
  /** Closed by the server after being subscribed. */
  dropped: number;
  /** Connections that have received a probe event. */
  live: number;
  /** Events of the armed run received, all connections together. */
  received: number;
  /** Connections that have every event of the armed run. */
  done: number;
  /** Receipt time of the last event of the armed run (clock ms). */
  lastAt: number;
  /** GraphQL `error`/`complete` or Socket.IO errors seen. */
  protocolErrors: number;
}

/** When a worker's batch of connections started and settled (clock ms), and why some failed. */
export interface ConnectTiming {
  startedAt: number;
  settledAt: number;
  /** Failed connections by cause: an error code (ECONNRESET, ECONNREFUSED…), `close <code>` or `timeout`. */
  failures: Record<string, number>;
}

/** Stats before anything happened: a worker's start, and the base of a sum. */
export const emptyStats = (): WorkerStats => ({
  open: 0,
  failed: 0,
  dropped: 0,
  live: 0,
  received: 0,
  done: 0,
  lastAt: 0,
  protocolErrors: 0,
});

export type FromWorker =
  | { type: 'connected'; stats: WorkerStats; timing: ConnectTiming }
  | { type: 'armed' }
  | { type: 'stats'; stats: WorkerStats }
  | { type: 'report'; stats: WorkerStats; histogram: [number, number][]; max: number };

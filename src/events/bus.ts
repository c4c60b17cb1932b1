import type { Channel } from './channel.js';
import type { EventHistory } from './history.js';
import type { EventBusStats } from './intake.js';

/** Stops a listener; safe to call more than once. */
export type Unlisten = () => void;

/**
 * Where events are published and heard. The Redis engine shares them between
 * every server instance and worker; the in-memory engine serves one process.
 *
 * Both deliver each payload as a fresh deserialised copy per process, shared
 * by every listener of that process: listeners must not mutate it.
 *
 * Both treat what they receive as untrusted: each payload is checked once
 * per process against its channel's schema (declared by the domain, see
 * `channelContract` in topics.ts) before any listener sees it, and dropped
 * (logged, counted in {@link EventBus.stats}) when it does not pass. A
 * listener that throws loses that event alone; the other listeners of the
 * channel still receive it.
 */
export interface EventBus {
  /** Which engine this is, for /health and logs. */
  readonly kind: 'memory' | 'redis';
  /**
   * Events held for one subscription whose client is not reading
   * (SUBSCRIPTION_MAX_QUEUED_EVENTS); `subscribe` ends it past that.
   */
  readonly maxQueuedEvents?: number;
  /**
   * The recent events of organisation channels, for clients that resume
   * after a reconnect; absent when resume is off (RESUME_WINDOW_SECONDS=0).
   * With it, each delivered payload carries its offset (see `offsetOf`).
   */
  readonly history?: EventHistory;
  /** Events dropped as malformed and listener failures, since the bus started. */
  readonly stats: Readonly<EventBusStats>;
  publish<Payload>(channel: Channel<Payload>, payload: Payload): Promise<void>;
  /**
   * Resolves once the listener is live: anything published after that is heard.
   * The returned function stops it. Throws for a channel whose kind has no
   * payload schema (a name `topics` cannot make).
   */
  listen<Payload>(channel: Channel<Payload>, listener: (payload: Payload) => void): Promise<Unlisten>;
  /** Stops every listener and releases connections. */
  close(): Promise<void>;
}

import type { Channel } from './channel.js';

/** Stops a listener; safe to call more than once. */
export type Unlisten = () => void;

/**
 * Where events are published and heard. The Redis engine shares them between
 * every server instance and worker; the in-memory engine serves one process.
 *
 * Both deliver each payload as a fresh deserialised copy per process, shared
 * by every listener of that process: listeners must not mutate it.
 */
export interface EventBus {
  /** Which engine this is, for /health and logs. */
  readonly kind: 'memory' | 'redis';
  /**
   * Events held for one subscription whose client is not reading
   * (SUBSCRIPTION_MAX_QUEUED_EVENTS); `subscribe` ends it past that.
   */
  readonly maxQueuedEvents?: number;
  publish<Payload>(channel: Channel<Payload>, payload: Payload): Promise<void>;
  /**
   * Resolves once the listener is live: anything published after that is heard.
   * The returned function stops it.
   */
  listen<Payload>(channel: Channel<Payload>, listener: (payload: Payload) => void): Promise<Unlisten>;
  /** Stops every listener and releases connections. */
  close(): Promise<void>;
}

import type { Viewer } from './auth/viewer.js';
import type { AccessSignal } from './lib/access-signal.js';
import type { ServerServices } from './services.js';

/** What every resolver receives, whatever the transport (HTTP, SSE or WebSocket). */
export interface GraphQLContext {
  /** The verified caller. */
  viewer: Viewer;
  /** The domains, each owning its state, authorization and events. */
  services: ServerServices;
  /**
   * A signal that aborts when the caller's access lapses (token expiry,
   * shutdown, connection closed): live subscriptions end then. Made on
   * first call, so only subscriptions pay for it.
   */
  accessSignal: () => AccessSignal | undefined;
  /**
   * On a WebSocket only: replaces the connection's token with a fresh one
   * for the same user (`refreshConnectionToken`), returning its viewer.
   */
  refreshToken?: (token: string) => Promise<Viewer>;
}

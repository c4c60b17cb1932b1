import { assertSameIdentity, dropsRole } from '../auth/refresh.js';
import { bearerToken, InvalidTokenError, type VerifyToken } from '../auth/jwt.js';
import type { Viewer } from '../auth/viewer.js';
import { unauthenticated } from '../errors.js';
import { OperationsSignal, type AccessSignal } from '../lib/access-signal.js';
import type { Schedule, Scheduled } from './schedule.js';

/**
 * The token an authenticated WebSocket runs under, from `connection_init`
 * until close: who its operations run as, when it expires, and how a
 * `refreshConnectionToken` replaces it without reconnecting.
 */
export interface SocketToken {
  /** The viewer operations started now run as (the latest token's claims). */
  readonly viewer: Viewer;
  /**
   * Aborts when the operations started under the current token must end:
   * the socket closed, or a refresh took one of its roles away. Read it
   * when an operation starts.
   */
  readonly signal: AccessSignal;
  /**
   * Verifies `token` (bare or `Bearer …`) with the connection's verifier and,
   * when it is the same user and organisation, carries on under it: the
   * expiry moves to its `exp`. Throws `UNAUTHENTICATED` (invalid or
   * expired) or `FORBIDDEN` (someone else), leaving the current token in place.
   */
  refresh(token: string): Promise<Viewer>;
  /** Ends every operation's signal and cancels the expiry; the socket is closing. */
  close(): void;
}

export interface SocketTokenOptions {
  viewer: Viewer;
  verifyToken: VerifyToken;
  /** Called once the current token's `exp` has passed (then the socket is closed `4403`). */
  onExpired: () => void;
  /** The instance's shared schedule the expiry waits on: no timer per socket. */
  schedule: Schedule;
}

/** A socket's token state, with its expiry scheduled. */
export function createSocketToken({
  viewer: first,
  verifyToken,
  onExpired,
  schedule,
}: SocketTokenOptions): SocketToken {
  let viewer = first;
  // Not an AbortController: held for the socket's life, it would cost ~900 bytes per connection.
  let operations = new OperationsSignal();
  let closed = false;
  let expiry: Scheduled | undefined;

  const arm = () => {
    schedule.cancel(expiry);
    expiry = schedule.at(viewer.expiresAt, onExpired, undefined);
  };
  arm();

  return {
    get viewer() {
      return viewer;
    },
    get signal() {
      return operations;
    },
    async refresh(token) {
      const raw = bearerToken(token);
      if (!raw) throw unauthenticated('The token is missing or malformed');
      let next: Viewer;
      try {
        next = await verifyToken(raw);
      } catch (error) {
        if (error instanceof InvalidTokenError) throw unauthenticated(error.message);
        throw error;
      }
      assertSameIdentity(viewer, next);
      if (closed) return next;
      // Subscriptions keep the viewer they were authorized as; one whose roles a refresh
      // took away could be seeing what the new token does not allow, so they end.
      if (dropsRole(viewer, next)) {
        operations.abort();
        operations = new OperationsSignal();
      }
      viewer = next;
      arm();
      return next;
    },
    close() {
      closed = true;
      schedule.cancel(expiry);
      operations.abort();
    },
  };
}

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
export function createSocketToken(options: SocketTokenOptions): SocketToken {
  return new TokenState(options);
}

/**
 * {@link SocketToken} as one object per socket, its methods on the
 * prototype: only `refresh`, handed to each operation's context on its
 * own, is a function of its own.
 */
class TokenState implements SocketToken {
  viewer: Viewer;
  /** Not an AbortController: held for the socket's life, that would cost ~900 bytes per connection. */
  signal = new OperationsSignal();
  private closed = false;
  private expiry: Scheduled | undefined;
  readonly refresh = (token: string): Promise<Viewer> => this.replace(token);

  constructor(private readonly options: SocketTokenOptions) {
    this.viewer = options.viewer;
    this.arm();
  }

  close(): void {
    this.closed = true;
    this.options.schedule.cancel(this.expiry);
    this.signal.abort();
  }

  private async replace(token: string): Promise<Viewer> {
    const raw = bearerToken(token);
    if (!raw) throw unauthenticated('The token is missing or malformed');
    let next: Viewer;
    try {
      next = await this.options.verifyToken(raw);
    } catch (error) {
      if (error instanceof InvalidTokenError) throw unauthenticated(error.message);
      throw error;
    }
    assertSameIdentity(this.viewer, next);
    if (this.closed) return next;
    // Subscriptions keep the viewer they were authorized as; one whose roles a refresh
    // took away could be seeing what the new token does not allow, so they end.
    if (dropsRole(this.viewer, next)) {
      this.signal.abort();
      this.signal = new OperationsSignal();
    }
    this.viewer = next;
    this.arm();
    return next;
  }

  private arm() {
    const { schedule, onExpired } = this.options;
    schedule.cancel(this.expiry);
    this.expiry = schedule.at(this.viewer.expiresAt, onExpired, undefined);
  }
}

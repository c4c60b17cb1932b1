import { jwtLifetime } from './jwt-lifetime.js';
import { isRecord, OPEN, type Frame, type SocketLike } from './socket.js';

/** The contract's mutation that gives an open socket a new token. */
export const REFRESH_MUTATION =
  'mutation RefreshConnectionToken($token: String!) { refreshConnectionToken(token: $token) }';

/** The longest a refresh happens before `exp`; shorter tokens refresh a tenth of their lifetime before it. */
export const REFRESH_MARGIN_MS = 30_000;

/** setTimeout's longest delay (about 24.8 days); longer waits are made of several. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/** Keeps one graphql-ws client's token fresh, fed by its connection's events. */
export interface TokenRefresher {
  /** A token for the connection being made (from `getToken`), remembered as the connection's. */
  connectionToken(): Promise<string>;
  /** The connection is acknowledged: refresh its token before `exp`; `send` writes a frame on it. */
  connected(socket: SocketLike, send: (frame: Frame) => void): void;
  /** A frame the client received (the refresh mutation's answer). */
  received(frame: Frame): void;
  /** The socket closed: nothing more is scheduled for it. */
  closed(): void;
}

/**
 * Before the connection's token expires (30 s before, or a tenth of its
 * lifetime for shorter ones), takes a new one from `getToken` and sends
 * `refreshConnectionToken` on the same socket; once the server accepts it,
 * the next refresh is planned from the new token's `exp`. A refresh that
 * fails (or a `getToken` that returns no newer token) plans nothing: the
 * server closes the socket at `exp` (4403) and graphql-ws reconnects with a
 * token from `getToken`.
 */
export function createTokenRefresher(getToken: () => string | Promise<string>): TokenRefresher {
  let token: string | undefined;
  let socket: SocketLike | undefined;
  let send: (frame: Frame) => void = () => {};
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inFlight: { id: string; token: string } | undefined;
  let sequence = 0;

  const plan = () => {
    clearTimeout(timer);
    const lifetime = token === undefined ? undefined : jwtLifetime(token);
    if (!lifetime) return;
    const lived = lifetime.expiresAt - (lifetime.issuedAt ?? Date.now());
    const at = lifetime.expiresAt - Math.min(REFRESH_MARGIN_MS, lived / 10);
    const wait = () => {
      const delay = at - Date.now();
      if (delay > 0) timer = setTimeout(wait, Math.min(delay, MAX_DELAY_MS));
      else void refresh();
    };
    wait();
  };

  const refresh = async () => {
    const refreshing = socket;
    let fresh: string;
    try {
      fresh = await getToken();
    } catch {
      return;
    }
    const current = token === undefined ? undefined : jwtLifetime(token);
    const next = jwtLifetime(fresh);
    if (refreshing !== socket || socket?.readyState !== OPEN) return;
    if (!next || (current && next.expiresAt <= current.expiresAt)) return;
    inFlight = { id: `refresh-connection-token-${++sequence}`, token: fresh };
    send({ id: inFlight.id, type: 'subscribe', payload: { query: REFRESH_MUTATION, variables: { token: fresh } } });
  };

  return {
    async connectionToken() {
      token = await getToken();
      return token;
    },
    connected(connectedSocket, sendFrame) {
      socket = connectedSocket;
      send = sendFrame;
      plan();
    },
    received({ type, id, payload }) {
      if (!inFlight || id !== inFlight.id) return;
      const accepted =
        type === 'next' &&
        isRecord(payload) &&
        !payload.errors &&
        isRecord(payload.data) &&
        typeof payload.data.refreshConnectionToken === 'string';
      if (accepted) {
        token = inFlight.token;
        plan();
      }
      if (type !== 'next') inFlight = undefined;
    },
    closed() {
      clearTimeout(timer);
      timer = undefined;
      socket = undefined;
      inFlight = undefined;
    },
  };
}

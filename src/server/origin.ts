import type { IncomingMessage } from 'node:http';
import { normaliseOrigin } from '../config.js';

/**
 * Decides whether a browser origin may call the API (HTTP and WebSocket
 * upgrades alike): the server's own origin (GraphiQL) always, others only
 * when listed in `CORS_ORIGINS` (`*` allows any). A request without
 * `Origin` (a backend, a worker, a mobile app) is judged by its token
 * alone. `Origin: null` (sandboxed frames, files) and anything that is not
 * a plain `scheme://host[:port]` are refused unless `*` is configured.
 *
 * Tokens travel in headers or `connectionParams`, never in cookies, so a
 * foreign page holds no ambient credential; the check still stops it
 * before any GraphQL runs, as the contract requires.
 */
export function createOriginPolicy(allowed: readonly string[]) {
  const anyOrigin = allowed.includes('*');
  const list = new Set(allowed.map((origin) => normaliseOrigin(origin) ?? origin));
  return (request: Pick<IncomingMessage, 'headers'>): boolean => {
    const origin = request.headers.origin;
    if (origin === undefined) return true;
    if (anyOrigin) return true;
    const normalised = normaliseOrigin(origin);
    if (!normalised) return false;
    if (list.has(normalised)) return true;
    // Same origin: GraphiQL served by this server. The browser sets Host itself.
    return isSameHost(normalised, request.headers.host);
  };
}
export type OriginPolicy = ReturnType<typeof createOriginPolicy>;

/** True when `host` (the Host header) names the origin's host and port, default ports aside. */
function isSameHost(origin: string, host: string | undefined): boolean {
  if (!host) return false;
  try {
    const url = new URL(origin);
    return url.host === new URL(`${url.protocol}//${host}`).host;
  } catch {
    return false;
  }
}

import type { IncomingMessage } from 'node:http';

/**
 * Decides whether a browser origin may call the API: the server's own
 * origin (GraphiQL) always, others only when listed in `CORS_ORIGINS`
 * (`*` allows any). A request without `Origin` (a backend, a worker, a
 * mobile app) is judged by its token alone.
 */
export function createOriginPolicy(allowed: readonly string[]) {
  const anyOrigin = allowed.includes('*');
  const list = new Set(allowed.map((origin) => origin.toLowerCase()));
  return (request: Pick<IncomingMessage, 'headers'>): boolean => {
    const origin = request.headers.origin;
    if (origin === undefined) return true;
    if (anyOrigin) return true;
    const normalised = origin.toLowerCase();
    if (list.has(normalised)) return true;
    try {
      return new URL(normalised).host === request.headers.host?.toLowerCase();
    } catch {
      return false;
    }
  };
}
export type OriginPolicy = ReturnType<typeof createOriginPolicy>;

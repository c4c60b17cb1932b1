import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { normaliseOrigin } from '../config.js';

/**
 * Decides whether a browser origin may call the API (HTTP and WebSocket
 * upgrades alike): the server's own origins (GraphiQL; see
 * {@link ownOrigins}) always, others only when listed in `CORS_ORIGINS`
 * (`*` allows any). A request without `Origin` (a backend, a worker, a
 * mobile app) is judged by its token alone. `Origin: null` (sandboxed
 * frames, files) and anything that is not a plain `scheme://host[:port]`
 * are refused unless `*` is configured.
 *
 * The `Host` header plays no part: a page on a name whose DNS an attacker
 * points at this server (DNS rebinding) sends its own name as both `Host`
 * and `Origin`, so "Origin matches Host" would let it in.
 *
 * Tokens travel in headers or `connectionParams`, never in cookies, so a
 * foreign page holds no ambient credential; the check still stops it
 * before any GraphQL runs, as the contract requires.
 */
export function createOriginPolicy(allowed: readonly string[], own: () => ReadonlySet<string>) {
  const anyOrigin = allowed.includes('*');
  const list = new Set(allowed.map((origin) => normaliseOrigin(origin) ?? origin));
  return (request: Pick<IncomingMessage, 'headers'>): boolean => {
    const origin = request.headers.origin;
    if (origin === undefined) return true;
    if (anyOrigin) return true;
    const normalised = normaliseOrigin(origin);
    if (!normalised) return false;
    return list.has(normalised) || own().has(normalised);
  };
}
export type OriginPolicy = ReturnType<typeof createOriginPolicy>;

const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '::1'];

/**
 * The origins this server is reached at, from what it was configured with
 * rather than what a request claims: `PUBLIC_ORIGIN`, and `http://` on the
 * address it listens on (`HOST`, `port`). Bound to a loopback address, the
 * loopback names; bound to every interface (`0.0.0.0`, `::`), the loopback
 * names and each interface's address, as they are when the server starts.
 */
export function ownOrigins(options: { host: string; port: number; publicOrigin?: string }): Set<string> {
  const { host, port, publicOrigin } = options;
  const hosts = new Set<string>();
  if (host === '0.0.0.0' || host === '::' || host === '') {
    for (const name of LOOPBACK_HOSTS) hosts.add(name);
    for (const addresses of Object.values(networkInterfaces())) {
      for (const { address } of addresses ?? []) hosts.add(address);
    }
  } else if (isLoopback(host)) {
    for (const name of LOOPBACK_HOSTS) hosts.add(name);
    hosts.add(host);
  } else {
    hosts.add(host);
  }
  const origins = new Set<string>(publicOrigin ? [publicOrigin] : []);
  for (const name of hosts) {
    const origin = normaliseOrigin(`http://${isIP(name) === 6 ? `[${name}]` : name}:${port}`);
    if (origin) origins.add(origin);
  }
  return origins;
}

/** True for a name or address of this machine's loopback: `localhost`, `::1` (or `[::1]`), `127.x.y.z`. */
export function isLoopback(host: string): boolean {
  const name = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return name === 'localhost' || name === '::1' || (isIP(name) === 4 && name.startsWith('127.'));
}

import type { Server } from 'node:http';
import { jwtVerify } from 'jose';

/** What the orchestrator hands every peer server through its environment. */
export const env = {
  port: Number(process.env.BENCH_PORT ?? 0),
  redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  prefix: process.env.BENCH_PREFIX ?? 'bench:',
  secret: process.env.JWT_SECRET ?? '',
};

const key = new TextEncoder().encode(env.secret);

/** The same check our server makes: an HS256 JWT with `sub` and `org`. */
export async function verify(token: unknown): Promise<{ id: string; orgId: string } | null> {
  if (typeof token !== 'string' || !token) return null;
  try {
    const { payload } = await jwtVerify(token, key, { algorithms: ['HS256'], requiredClaims: ['exp'] });
    if (typeof payload.sub !== 'string' || typeof payload.org !== 'string') return null;
    return { id: payload.sub, orgId: payload.org };
  } catch {
    return null;
  }
}

/** Listens on loopback, prints `ready`, and exits cleanly on SIGTERM (so --cpu-prof is written). */
export function serve(server: Server, close: () => Promise<unknown>) {
  server.listen(env.port, '127.0.0.1', () => process.stdout.write('ready\n'));
  const stop = () => {
    void close().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('disconnect', stop);
}

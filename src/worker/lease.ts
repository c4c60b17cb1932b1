import type { Logger } from '../logger.js';
import type { Storage } from '../storage/index.js';

/** A lease this process holds, renewed in the background until released. */
export interface HeldLease {
  /** Aborts when the lease may have been lost: renewal refused, or not confirmed for a whole TTL. */
  signal: AbortSignal;
  /** Stops renewing and gives the lease up (only while it is still ours). */
  release(): Promise<void>;
}

/**
 * Tries to take `key` for `ttlMs` as `token`; when it does, renews it every
 * third of the TTL. A renewal the storage refuses (it lapsed and someone
 * else took it) aborts `signal` at once; renewals that fail (Redis away)
 * abort it once a whole TTL has passed without one, since another process
 * may hold the lease by then. Undefined when someone else holds it.
 */
export async function takeLease(
  storage: Storage,
  key: string,
  token: string,
  ttlMs: number,
  logger: Logger,
): Promise<HeldLease | undefined> {
  if ((await storage.claim(key, token, ttlMs)) !== token) return undefined;
  const lost = new AbortController();
  let confirmedAt = Date.now();
  let renewing: Promise<void> | undefined;
  const renew = async () => {
    const startedAt = Date.now();
    try {
      if (await storage.renew(key, token, ttlMs)) confirmedAt = startedAt;
      else lost.abort(new Error('lease taken over'));
    } catch (error) {
      logger.warn({ key, err: String(error) }, 'lease renewal failed');
      if (Date.now() - confirmedAt >= ttlMs) lost.abort(new Error('lease lapsed'));
    }
  };
  const timer = setInterval(() => {
    renewing ??= renew().finally(() => (renewing = undefined));
  }, ttlMs / 3);
  return {
    signal: lost.signal,
    async release() {
      clearInterval(timer);
      await renewing;
      await storage.release(key, token).catch(() => false);
    },
  };
}

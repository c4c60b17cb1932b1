import type { Plugin } from 'graphql-yoga';
import type { Viewer } from '../../auth/viewer.js';
import { keyPart } from '../../lib/keys.js';
import { rateLimited } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { createMemoryLimits } from '../../storage/limits-memory.js';
import type { Storage } from '../../storage/index.js';

/**
 * RATE_LIMIT_PER_SECOND / RATE_LIMIT_BURST: a token bucket per user
 * (organisation and id) that every operation (query, mutation, subscription
 * start; over HTTP, SSE and WebSocket alike) takes one token from. The
 * bucket lives in the storage backend, so with Redis it is shared by every
 * instance (in the user's organisation's scope, so on a Redis Cluster the
 * buckets spread over the shards with the organisations); while Redis is unreachable each instance falls back to a bucket
 * of its own rather than refusing everything. Refused operations get
 * `RATE_LIMITED` (HTTP 429 with `Retry-After`) and do not run.
 */
export function useRateLimit(options: {
  storage: Storage;
  perSecond: number;
  burst: number;
  logger: Logger;
  /** Told of each operation refused (`/metrics`). */
  onRefused?: () => void;
}): Plugin {
  const { storage, perSecond, burst, logger, onRefused = () => {} } = options;
  const fallback = createMemoryLimits();
  let degraded = false;

  const take = async (viewer: Viewer) => {
    const key = `ops:${keyPart(viewer.orgId)}:${keyPart(viewer.id)}`;
    try {
      const taken = await storage.forOrg(viewer.orgId).takeToken(key, burst, perSecond);
      degraded = false;
      return taken;
    } catch (error) {
      if (!degraded)
        logger.warn({ err: (error as Error).message }, 'shared rate limit unavailable; limiting per instance');
      degraded = true;
      return fallback.takeToken(key, burst, perSecond);
    }
  };
  const check = async (context: unknown, stop: (result: { errors: Error[] }) => void) => {
    const viewer = (context as { viewer?: Viewer }).viewer;
    if (!viewer) return;
    const { allowed, retryAfterMs } = await take(viewer);
    if (!allowed) {
      onRefused();
      stop({
        errors: [
          rateLimited(`Too many operations: at most ${perSecond} per second (bursts of ${burst})`, retryAfterMs),
        ],
      });
    }
  };

  return {
    onExecute: ({ args, setResultAndStopExecution }) => check(args.contextValue, setResultAndStopExecution),
    onSubscribe: ({ args, setResultAndStopExecution }) => check(args.contextValue, setResultAndStopExecution),
  };
}

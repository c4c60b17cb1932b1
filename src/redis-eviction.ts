import type { RedisClient } from './redis.js';
import type { Logger } from './logger.js';

/**
 * What to do on a Redis that may evict keys: `refuse` to start (production,
 * unless `REDIS_ALLOW_EVICTION=true`), or `warn` and go on.
 */
export type EvictionStance = 'refuse' | 'warn';

/** A Redis whose eviction policy would drop state, refused at start-up; the message is one line. */
export class EvictingRedisError extends Error {
  override name = 'EvictingRedisError';
}

/**
 * The server's `maxmemory-policy`: from `CONFIG GET`, or, where a managed
 * Redis refuses CONFIG (renamed, disabled, forbidden by ACL), from the
 * `maxmemory_policy` field of `INFO memory`. Undefined when neither answers.
 */
export async function readEvictionPolicy(redis: RedisClient): Promise<string | undefined> {
  try {
    const reply = (await redis.config('GET', 'maxmemory-policy')) as unknown;
    if (Array.isArray(reply) && typeof reply[1] === 'string' && reply[1]) return reply[1];
  } catch {
    // Refused: try INFO.
  }
  try {
    const info = await redis.info('memory');
    return /^maxmemory_policy:(\S+)/m.exec(info)?.[1];
  } catch {
    return undefined;
  }
}

/**
 * Leases, connection slots, claims and stored records live in Redis as
 * keys that must not vanish: with any policy but `noeviction`, Redis under
 * memory pressure deletes them silently (managed Redis often defaults to
 * `volatile-lru` or `allkeys-lru`). `noeviction` makes a full Redis refuse
 * writes instead, which every caller sees as an error. With `refuse` this
 * throws {@link EvictingRedisError}; otherwise it logs a warning. A policy
 * that cannot be read is a warning either way.
 */
export async function checkEvictionPolicy(redis: RedisClient, stance: EvictionStance, logger: Logger): Promise<void> {
  const policy = await readEvictionPolicy(redis);
  if (policy === 'noeviction') return;
  if (policy === undefined) {
    logger.warn(
      'Redis answered neither CONFIG GET maxmemory-policy nor INFO memory: make sure its maxmemory-policy is noeviction, or keys may be evicted and state lost',
    );
    return;
  }
  const problem = `Redis maxmemory-policy is ${policy}: under memory pressure it deletes keys (leases, slots, stored records) and state is lost silently.`;
  const fix = 'Set maxmemory-policy to noeviction (CONFIG SET maxmemory-policy noeviction, or your provider’s setting)';
  if (stance === 'refuse') {
    throw new EvictingRedisError(`${problem} ${fix}, or set REDIS_ALLOW_EVICTION=true to start anyway.`);
  }
  logger.warn({ maxmemoryPolicy: policy }, `${problem} ${fix}.`);
}

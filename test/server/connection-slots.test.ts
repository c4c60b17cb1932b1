import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import type { Viewer } from '../../src/auth/viewer.js';
import { createLogger } from '../../src/logger.js';
import { createConnectionSlots } from '../../src/server/connection-slots.js';
import { createRedisStorage } from '../../src/storage/index.js';
import { keySpace } from '../../src/lib/keys.js';
import { dispose, uniquePrefix } from '../support/harness.js';
import { commandCalls, startRedisServer } from '../support/redis-server.js';

const bin = inject('redisServerBin');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Users spread over three organisations: each organisation's slots are renewed in its own scope. */
const orgOf = (i: number) => ['org-a', 'org-b', 'org-c'][i % 3]!;
const viewer = (i: number) => ({ id: `user-${i}`, orgId: orgOf(i) }) as Viewer;

/** Script calls Redis has run so far, by text or by SHA1 (this Redis serves this test alone). */
async function evalCalls(redis: Redis): Promise<number> {
  const calls = await commandCalls(redis);
  return (calls.get('eval') ?? 0) + (calls.get('evalsha') ?? 0);
}

describe('connection slots (MAX_CONNECTIONS_PER_USER) at scale', () => {
  it.skipIf(!bin)(
    'renews thousands of leases in a few calls per round, past their lapse, and releases each',
    { timeout: 60_000 },
    async () => {
      const server = await startRedisServer(bin!);
      dispose(() => server.stop());
      const redis = new Redis(server.url);
      dispose(() => redis.quit());
      const prefix = uniquePrefix();
      const keys = keySpace(prefix, false);
      const storage = createRedisStorage(redis, keys);
      // A user's slots are in their organisation's scope.
      const slotKey = (i: number) => `${keys.org(orgOf(i))}slots:conn:${orgOf(i)}:user-${i}`;
      const ttlMs = 900;
      const slots = createConnectionSlots({ storage, limit: 2, logger: createLogger('silent'), ttlMs });
      dispose(() => slots.close());

      const users = 1_500;
      const releases = [];
      for (let i = 0; i < users; i++) {
        for (let n = 0; n < 2; n++) releases.push((await slots.acquire(viewer(i)))!);
      }
      expect(releases.every(Boolean)).toBe(true);

      // Several lapses long: only renewal keeps 3,000 leases alive.
      const calls = await evalCalls(redis);
      const started = Date.now();
      await sleep(4 * ttlMs);
      const rounds = Math.ceil((Date.now() - started) / (ttlMs / 3)) + 1;
      const renewalCalls = (await evalCalls(redis)) - calls;
      expect(renewalCalls).toBeGreaterThan(0);
      // 3,000 slots of three organisations: at most 3 script calls a round (one per organisation), not one per slot.
      expect(renewalCalls).toBeLessThanOrEqual(rounds * 3);

      // Every lease is still held in Redis: another instance (its own local count) is refused.
      const other = createConnectionSlots({ storage, limit: 2, logger: createLogger('silent'), ttlMs });
      dispose(() => other.close());
      expect(await other.acquire(viewer(0))).toBeUndefined();
      expect(await other.acquire(viewer(users - 1))).toBeUndefined();
      expect(await redis.zcard(slotKey(7))).toBe(2);

      // A lease lost meanwhile (a Redis restart, an eviction) is held again on the next round.
      await redis.del(slotKey(8));
      await expect.poll(() => redis.zcard(slotKey(8)), { timeout: 5_000 }).toBe(2);

      // Released slots leave Redis and are free for anyone.
      releases[0]!();
      await expect.poll(() => redis.zcard(slotKey(0))).toBe(1);
      const taken = await other.acquire(viewer(0));
      expect(taken).toBeDefined();
      taken!();
      await slots.close();
      await other.close();
      expect(await redis.keys(`${prefix}*slots:*`)).toEqual([]);
    },
  );
});

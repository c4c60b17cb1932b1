import { runScript, type RedisClient } from '../redis.js';
import type { Storage } from './storage.js';

/** Milliseconds on Redis's clock, so instances with skewed clocks agree. */
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** Token bucket in a hash {tokens, at}; expires once it would be full again. */
const TAKE_TOKEN = `${NOW}
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate / 1000)
local allowed = 0
local retry = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity * 1000 / rate) + 1000)
return {allowed, retry}`;

/** A sorted set of members scored by when their lease ends. */
const HOLD_SLOT = `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`;

/**
 * Renews many slots in one call: KEYS are slot sets, ARGV is the lease, then
 * per key its member count followed by its members.
 */
const RENEW_SLOTS = `${NOW}
local ttl = tonumber(ARGV[1])
local i = 2
for k = 1, #KEYS do
  local count = tonumber(ARGV[i])
  i = i + 1
  for j = 1, count do
    redis.call('ZADD', KEYS[k], now + ttl, ARGV[i])
    i = i + 1
  end
  redis.call('PEXPIRE', KEYS[k], ttl)
end
return #KEYS`;

/** Slots renewed per script call: a few calls per renewal round even at 20,000 connections, each short. */
const RENEW_BATCH = 1_000;

/** The Redis token buckets and slot sets of {@link Storage}: shared by every instance. */
export function createRedisLimits(
  redis: RedisClient,
  prefix: string,
): Pick<Storage, 'takeToken' | 'holdSlot' | 'releaseSlot' | 'renewSlots'> {
  return {
    async takeToken(key, capacity, perSecond) {
      const [allowed, retryAfterMs] = (await runScript(
        redis,
        TAKE_TOKEN,
        [`${prefix}bucket:${key}`],
        [capacity, perSecond],
      )) as [number, number];
      return { allowed: allowed === 1, retryAfterMs };
    },
    async holdSlot(key, member, limit, ttlMs) {
      return (await runScript(redis, HOLD_SLOT, [`${prefix}slots:${key}`], [member, limit, ttlMs])) === 1;
    },
    async releaseSlot(key, member) {
      await redis.zrem(`${prefix}slots:${key}`, member);
    },
    async renewSlots(slots, ttlMs) {
      const calls: Promise<unknown>[] = [];
      for (let start = 0; start < slots.length; start += RENEW_BATCH) {
        const byKey = new Map<string, string[]>();
        for (const [key, member] of slots.slice(start, start + RENEW_BATCH)) {
          const members = byKey.get(key);
          if (members) members.push(member);
          else byKey.set(key, [member]);
        }
        const keys = [...byKey.keys()].map((key) => `${prefix}slots:${key}`);
        const args = [...byKey.values()].flatMap((members) => [members.length, ...members]);
        calls.push(runScript(redis, RENEW_SLOTS, keys, [ttlMs, ...args]));
      }
      await Promise.all(calls);
    },
  };
}

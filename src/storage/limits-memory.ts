import type { Storage } from './storage.js';

/** Entries kept before idle ones are swept, so abandoned keys cannot pile up. */
const SWEEP_ABOVE = 10_000;

/** The in-memory token buckets and slot sets of {@link Storage}: one process only. */
export function createMemoryLimits(): Pick<Storage, 'takeToken' | 'holdSlot' | 'releaseSlot' | 'renewSlots'> {
  const buckets = new Map<string, { tokens: number; at: number; capacity: number; perSecond: number }>();
  const slots = new Map<string, Map<string, number>>();

  const refill = (bucket: { tokens: number; at: number; capacity: number; perSecond: number }, now: number) =>
    Math.min(bucket.capacity, bucket.tokens + ((now - bucket.at) * bucket.perSecond) / 1000);
  const liveSlots = (key: string, now: number) => {
    const set = slots.get(key);
    if (!set) return undefined;
    for (const [member, expiresAt] of set) if (expiresAt <= now) set.delete(member);
    if (set.size === 0) slots.delete(key);
    return set.size === 0 ? undefined : set;
  };

  return {
    async takeToken(key, capacity, perSecond) {
      const now = Date.now();
      if (buckets.size > SWEEP_ABOVE) {
        for (const [k, bucket] of buckets) if (refill(bucket, now) >= bucket.capacity) buckets.delete(k);
      }
      const bucket = buckets.get(key) ?? { tokens: capacity, at: now, capacity, perSecond };
      const tokens = refill({ ...bucket, capacity, perSecond }, now);
      const allowed = tokens >= 1;
      buckets.set(key, { tokens: allowed ? tokens - 1 : tokens, at: now, capacity, perSecond });
      return { allowed, retryAfterMs: allowed ? 0 : Math.ceil(((1 - tokens) * 1000) / perSecond) };
    },
    async holdSlot(key, member, limit, ttlMs) {
      const now = Date.now();
      if (slots.size > SWEEP_ABOVE) for (const k of [...slots.keys()]) liveSlots(k, now);
      const set = liveSlots(key, now) ?? new Map<string, number>();
      if (!set.has(member) && set.size >= limit) return false;
      set.set(member, now + ttlMs);
      slots.set(key, set);
      return true;
    },
    async releaseSlot(key, member) {
      const set = slots.get(key);
      set?.delete(member);
      if (set?.size === 0) slots.delete(key);
    },
    async renewSlots(held, ttlMs) {
      const until = Date.now() + ttlMs;
      for (const [key, member] of held) {
        let set = slots.get(key);
        if (!set) slots.set(key, (set = new Map()));
        set.set(member, until);
      }
    },
  };
}

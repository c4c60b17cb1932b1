import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { CLAIMED, createMemoryStorage, createRedisStorage, PENDING, type Storage } from '../../src/storage/index.js';
import { keySpace } from '../../src/lib/keys.js';
import { BACKENDS, dispose, uniquePrefix, type Backend } from '../support/harness.js';

/** The storage primitives campaigns rely on, held to the same behaviour on both backends. */
async function storageFor(backend: Backend): Promise<Storage> {
  if (backend === 'memory') return createMemoryStorage();
  const redis = new Redis(inject('redisUrl'));
  dispose(() => redis.quit());
  return createRedisStorage(redis, keySpace(uniquePrefix(), false));
}

describe.each(BACKENDS)('campaign storage primitives on the %s backend', (backend) => {
  it('ledger: claims hand out items in order, each once, never beyond the size', async () => {
    const ledger = (await storageFor(backend)).ledger('l');
    expect(await ledger.claim('A', 3, 7)).toEqual([0, 1, 2].map((item) => ({ item, orphan: false })));
    expect(await ledger.claim('A', 3, 7)).toEqual([3, 4, 5].map((item) => ({ item, orphan: false })));
    expect(await ledger.claim('A', 3, 7)).toEqual([{ item: 6, orphan: false }]);
    expect(await ledger.claim('A', 3, 7)).toEqual([]);
    expect(await ledger.counts()).toEqual({ [CLAIMED]: 7 });
    expect(await (await storageFor(backend)).ledger('fresh').counts()).toEqual({});
  });

  it('ledger: moves apply only from the listed states and, for claims, only for their owner', async () => {
    const ledger = (await storageFor(backend)).ledger('l');
    await ledger.claim('A', 2, 4);
    const byB = await ledger.move([{ item: 0, from: [CLAIMED], to: 'a' }], 'B');
    expect(byB.applied).toEqual([false]);
    expect(byB.previous).toEqual([CLAIMED]);
    const byA = await ledger.move([{ item: 0, from: [CLAIMED], to: 'a' }], 'A');
    expect(byA.applied).toEqual([true]);
    expect(byA.counts).toEqual({ [CLAIMED]: 1, a: 1 });
    // Forward only: a later state does not go back.
    const back = await ledger.move([{ item: 0, from: [PENDING, CLAIMED], to: 's' }]);
    expect(back).toMatchObject({ applied: [false], previous: ['a'] });
    const forward = await ledger.move([
      { item: 0, from: ['a'], to: 'd' },
      { item: 3, from: [PENDING], to: 'd' },
    ]);
    expect(forward).toMatchObject({ applied: [true, true], previous: ['a', PENDING] });
    expect(forward.counts).toEqual({ [CLAIMED]: 1, d: 2 });
    await expect(ledger.move([{ item: 1, from: [PENDING], to: CLAIMED }])).rejects.toThrow();
  });

  it('ledger: handed-back items come first, then orphans of other owners; a claimed item that moved on is not handed out', async () => {
    const ledger = (await storageFor(backend)).ledger('l');
    await ledger.claim('A', 4, 10); // 0..3
    await ledger.move([{ item: 1, from: [CLAIMED], to: PENDING }], 'A');
    await ledger.move([{ item: 2, from: [CLAIMED], to: 's' }]); // a receipt overtook the sender
    expect(await ledger.claim('A', 10, 10)).toEqual([
      { item: 1, orphan: false },
      ...[4, 5, 6, 7, 8, 9].map((item) => ({ item, orphan: false })),
    ]);
    // B takes over: everything A still holds is an orphan for B.
    const takeover = await ledger.claim('B', 3, 10);
    expect(takeover).toEqual([
      { item: 0, orphan: true },
      { item: 1, orphan: true },
      { item: 3, orphan: true },
    ]);
    // A, late, can no longer record what B holds.
    const late = await ledger.move([{ item: 0, from: [CLAIMED], to: 'a' }], 'A');
    expect(late.applied).toEqual([false]);
    expect((await ledger.counts())[CLAIMED]).toBe(9);
  });

  it('ledger: owners racing each other (a stalled run and its successor) record every item exactly once', async () => {
    const ledger = (await storageFor(backend)).ledger('l');
    const recorded = new Map<number, string[]>();
    await Promise.all(
      ['A', 'B', 'C', 'D'].map(async (owner) => {
        for (;;) {
          const claims = await ledger.claim(owner, 7, 300);
          if (claims.length === 0) return;
          const moved = await ledger.move(
            claims.map(({ item }) => ({ item, from: [CLAIMED], to: 'a' })),
            owner,
          );
          claims.forEach(({ item }, i) => {
            if (moved.applied[i]) recorded.set(item, [...(recorded.get(item) ?? []), owner]);
          });
        }
      }),
    );
    expect([...recorded.keys()].sort((x, y) => x - y)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect([...recorded.values()].every((owners) => owners.length === 1)).toBe(true);
    expect(await ledger.counts()).toEqual({ a: 300 });
  });

  it('renew extends a claim only for its holder', async () => {
    const storage = await storageFor(backend);
    expect(await storage.claim('lease', 'A', 150)).toBe('A');
    expect(await storage.renew('lease', 'B', 10_000)).toBe(false);
    expect(await storage.renew('lease', 'A', 10_000)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(await storage.peek('lease')).toBe('A');
    expect(await storage.release('lease', 'A')).toBe(true);
    expect(await storage.renew('lease', 'A', 10_000)).toBe(false);
  });

  it('pace hands out consecutive slots to every caller of a key', async () => {
    const storage = await storageFor(backend);
    const waits = await Promise.all([storage.pace('p', 100, 3), storage.pace('p', 100, 2)]);
    const [first, second] = waits.sort((x, y) => x - y);
    expect(first).toBeLessThan(20);
    // Whichever came second starts after the other's slots (300 or 200 ms of them).
    expect(second! - first!).toBeGreaterThanOrEqual(190);
    expect(await storage.pace('other', 100, 1)).toBeLessThan(20);
  });
});

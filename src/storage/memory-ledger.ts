import { assertLedgerMove, CLAIMED, PENDING, type Ledger, type LedgerClaim, type LedgerCounts } from './ledger.js';

/** The embedded {@link Ledger}: the same rules as the Redis one, on maps in this process. */
export function createMemoryLedger(): Ledger {
  const states = new Map<number, string>();
  const owners = new Map<number, string>();
  /** Items below the cursor that a claim must look at: handed back, or claimed. */
  const open = new Set<number>();
  const counts = new Map<string, number>();
  let next = 0;
  /** When the item states go (see `retire`); they are dropped at the first use after it. */
  let retiredAt: number | undefined;
  const dropRetired = () => {
    if (retiredAt === undefined || Date.now() < retiredAt) return;
    states.clear();
    owners.clear();
    open.clear();
    retiredAt = undefined;
  };

  const stateOf = (item: number) => states.get(item) ?? PENDING;
  const bump = (state: string, by: number) => {
    if (state === PENDING) return;
    const value = (counts.get(state) ?? 0) + by;
    if (value === 0) counts.delete(state);
    else counts.set(state, value);
  };
  const snapshot = (): LedgerCounts => Object.fromEntries(counts);

  return {
    async claim(owner, limit, size) {
      dropRetired();
      const out: LedgerClaim[] = [];
      const take = (item: number, orphan: boolean) => {
        if (!orphan) bump(CLAIMED, 1);
        states.set(item, CLAIMED);
        owners.set(item, owner);
        open.add(item);
        out.push({ item, orphan });
      };
      for (const item of [...open].sort((a, b) => a - b)) {
        if (out.length >= limit) break;
        const state = stateOf(item);
        if (state === PENDING) take(item, false);
        else if (state === CLAIMED) {
          if (owners.get(item) !== owner) take(item, true);
        } else open.delete(item);
      }
      while (out.length < limit && next < size) {
        if (stateOf(next) === PENDING) take(next, false);
        next++;
      }
      return out;
    },

    async move(moves, owner) {
      moves.forEach(assertLedgerMove);
      dropRetired();
      const previous: string[] = [];
      const applied: boolean[] = [];
      for (const { item, from, to } of moves) {
        const state = stateOf(item);
        const allowed =
          from.includes(state) && !(state === CLAIMED && owner !== undefined && owners.get(item) !== owner);
        if (allowed && state !== to) {
          bump(state, -1);
          bump(to, 1);
          states.set(item, to);
          if (state === CLAIMED) owners.delete(item);
          if (to === PENDING) open.add(item);
          else open.delete(item);
        }
        previous.push(state);
        applied.push(allowed);
      }
      return { previous, applied, counts: snapshot() };
    },

    async counts() {
      return snapshot();
    },

    async retire(ttlMs) {
      retiredAt = Date.now() + ttlMs;
    },
  };
}

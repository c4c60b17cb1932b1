/**
 * A ledger: work items numbered `0..size-1`, each in a one-character state,
 * that owners claim in batches and move from state to state atomically,
 * with a count per state kept in the same step. Built for "send each of N
 * recipients exactly once" across workers that may pause, hand over or
 * crash: an item is claimed (recorded as held by its owner) before anyone
 * acts on it, so a crash leaves it claimed, never silently unsent.
 *
 * Owners take turns: the caller is expected to be the ledger's current
 * owner (e.g. the holder of a lease), and a claim takes over whatever
 * earlier owners still hold. Owners that overlap (a stalled one and its
 * successor) can still never both record the same item: a move of a
 * claimed item applies only for the owner holding it at that moment.
 *
 * Both backends behave the same; every method is atomic.
 */
export interface Ledger {
  /**
   * Claims up to `limit` items for `owner` and marks them {@link CLAIMED}.
   * First, in item order, items that were handed back ({@link PENDING}
   * again) or are claimed by another owner (`orphan: true`: that owner may
   * have acted on them before it lost them); then never-claimed items, in
   * order, below `size`. Items `owner` already holds are not returned again.
   */
  claim(owner: string, limit: number, size: number): Promise<LedgerClaim[]>;
  /**
   * Applies each move whose item is in one of its `from` states; a
   * {@link CLAIMED} item counts as in `from` only while `owner` holds it,
   * when `owner` is given. Moving to {@link PENDING} hands an item back for
   * the next claim. `to` may not be {@link CLAIMED} (only `claim` claims).
   */
  move(moves: readonly LedgerMove[], owner?: string): Promise<LedgerMoved>;
  /** How many items are in each state, pending ones excepted. */
  counts(): Promise<LedgerCounts>;
  /**
   * For a ledger whose work is over: its item states (the bulk, one per
   * item) are deleted `ttlMs` from now; its counts stay for good. Moves
   * after that find every item pending.
   */
  retire(ttlMs: number): Promise<void>;
}

/** An item nobody holds: never claimed, or handed back. Items start here. */
export const PENDING = '.';
/** An item held by an owner. */
export const CLAIMED = '*';

/** Item counts by state; states without items are absent. Pending items are not counted. */
export type LedgerCounts = Record<string, number>;

/** An item a claim handed out. */
export interface LedgerClaim {
  item: number;
  /** It was claimed by another owner, who may have acted on it before losing it. */
  orphan: boolean;
}

/** A state change for one item, applied only from the listed states. */
export interface LedgerMove {
  item: number;
  from: readonly string[];
  to: string;
}

/** What a {@link Ledger.move} did. */
export interface LedgerMoved {
  /** Per move, in order: the item's state before it. */
  previous: string[];
  /** Per move, in order: whether it applied. */
  applied: boolean[];
  /** Counts after every move of the call was applied, read in the same atomic step. */
  counts: LedgerCounts;
}

/** Throws unless `state` is one printable ASCII character; `to` may also not be {@link CLAIMED}. */
export function assertLedgerMove(move: LedgerMove): void {
  const valid = (state: string) => /^[!-~]$/.test(state);
  if (!Number.isSafeInteger(move.item) || move.item < 0) throw new Error(`Ledger item ${move.item} is not an index`);
  if (!valid(move.to) || move.to === CLAIMED) throw new Error(`Ledger state "${move.to}" cannot be moved to`);
  for (const state of move.from) if (!valid(state)) throw new Error(`Ledger state "${state}" is not valid`);
}

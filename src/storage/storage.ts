import type { Ledger } from './ledger.js';

/** A stored record: everything the server keeps has a string id. */
export interface Doc {
  id: string;
}

/** A place in an ordered index: `score` orders it (e.g. creation time or sequence). */
export interface IndexEntry {
  index: string;
  score: number;
  /**
   * The id listed, when not the written record's own: an index the record
   * keeps of other ids (e.g. a conversation's members, by join order),
   * written in the same atomic step as the record. Absent: the record's id.
   */
  id?: string;
}

/**
 * An event that a change produces, recorded together with it: the write
 * and its events are applied in one atomic step, so an event of a
 * committed change can never be lost between the two (a crash, a dropped
 * connection, a failed publish). Built with `changeEvent` (src/events/change-event.ts),
 * which checks the payload against the channel's type.
 */
export interface ChangeEvent {
  /** The channel's name, as `topics` makes it (without the Redis prefix). */
  channel: string;
  payload: unknown;
}

/** What an update did: both versions, and whether anything changed. */
export interface Updated<T> {
  before: T;
  after: T;
  changed: boolean;
}

/** What {@link Storage.takeToken} found. */
export interface TokenTaken {
  allowed: boolean;
  /** When refused: milliseconds until a token is there again. */
  retryAfterMs: number;
}

/**
 * How a record moves between indexes from one version to the next: the
 * indexes it leaves, and the entries it joins or whose score changes.
 */
export function indexMoves(before: readonly IndexEntry[], after: readonly IndexEntry[]) {
  // An entry is its index and the id it lists (the record's own when absent): `\n` is in neither.
  const place = (entry: IndexEntry) => `${entry.index}\n${entry.id ?? ''}`;
  const kept = new Map(after.map((entry) => [place(entry), entry.score]));
  const was = new Map(before.map((entry) => [place(entry), entry.score]));
  return {
    leave: before.filter((entry) => !kept.has(place(entry))),
    join: after.filter((entry) => was.get(place(entry)) !== entry.score),
  };
}

/** Options for reading an ordered index. */
export interface RangeOptions {
  /** `asc` (default): lowest score first; `desc`: highest first. */
  order?: 'asc' | 'desc';
  /** Only entries whose score is strictly below this. */
  below?: number;
  /** At most this many, taken from the start of the chosen order. */
  limit?: number;
}

/**
 * How long a collection keeps its records, so storage is bounded by
 * activity rather than by age. A record expires `ttlMs` after it was
 * inserted (Redis `PX` set in the same script as the write); with
 * `renewOnWrite`, every update starts the time again (a sliding window).
 * Index entries of expired records are dropped lazily: by `list` when it
 * meets them, and by `count`, which first trims the expired entries at the
 * low end of the index. That trim assumes an index's scores grow with the
 * records' insertion (a sequence or creation time), so expired entries
 * lie at its low end; every indexed collection given a retention does.
 */
export interface Retention {
  ttlMs: number;
  renewOnWrite?: boolean;
}

/**
 * One kind of record, kept as JSON documents with ordered indexes.
 * Every domain's store is written against this, so the in-memory and
 * Redis backends behave the same.
 */
export interface Collection<T extends Doc> {
  get(id: string): Promise<T | undefined>;
  /** The records that exist, in the order of `ids`. */
  getMany(ids: readonly string[]): Promise<T[]>;
  /**
   * Stores a new record, its index entries and the `events` it produces
   * together; false (and nothing stored or published) when the id is taken.
   */
  insert(doc: T, indexes?: readonly IndexEntry[], events?: readonly ChangeEvent[]): Promise<boolean>;
  /**
   * Applies `change` atomically: with Redis, a compare-and-set that retries
   * when another instance wrote in between, so `change` may run more than
   * once and must be pure. Returning `undefined` leaves the record as it is.
   * Resolves `undefined` when the record does not exist.
   *
   * `indexes`, when given, says which index entries a record belongs in
   * (e.g. per assignee, per status, unread): the record leaves the indexes
   * of its old version and joins those of its new one in the same atomic
   * write, so an index never disagrees with its records, across instances
   * and crashes alike.
   *
   * `events`, when given, are the events the change produces, made from the
   * new and old versions (pure too: it runs on every attempt); they are
   * recorded in the same atomic write, and only when something changed.
   */
  update(
    id: string,
    change: (current: T) => T | undefined,
    indexes?: (record: T) => readonly IndexEntry[],
    events?: (after: T, before: T) => readonly ChangeEvent[],
  ): Promise<Updated<T> | undefined>;
  /**
   * Deletes the record, its entries in `indexes` and records the `events`
   * made from the removed record, together. Undefined (and no events) when
   * there was no record.
   */
  remove(
    id: string,
    indexes?: readonly string[],
    events?: (removed: T) => readonly ChangeEvent[],
  ): Promise<T | undefined>;
  /**
   * Makes an existing record expire `ttlMs` from now (Redis `PEXPIRE`), as
   * data whose purpose is over (e.g. an ended campaign's recipients).
   */
  expire(id: string, ttlMs: number): Promise<void>;
  /** Adds (or moves) ids in an index. */
  index(index: string, entries: readonly { id: string; score: number }[]): Promise<void>;
  /** Removes ids from an index. */
  unindex(index: string, ids: readonly string[]): Promise<void>;
  /** Ids in an index, ordered by score. */
  ids(index: string, options?: RangeOptions): Promise<string[]>;
  /** Records in an index, ordered by score; ids whose record is gone are skipped. */
  list(index: string, options?: RangeOptions): Promise<T[]>;
  /** The score of `id` in an index; undefined when it is not there (for paging from a cursor). */
  score(index: string, id: string): Promise<number | undefined>;
  /** How many ids an index holds with a score strictly between `above` and `below` (each optional). */
  count(index: string, options?: { above?: number; below?: number }): Promise<number>;
  /**
   * A page of the ids in `index`, highest rank first, where an id's rank is
   * the higher of its score in `index` and its score in `by` (its own alone
   * when `by` does not hold it); equal ranks by id, highest first. With
   * `before`, only those ranked after it; undefined when `before` is not in
   * `index` (the caller answers `NOT_FOUND`).
   *
   * For a list whose order is read, not written: e.g. a member's
   * conversations (`index`: theirs, scored when they joined) ordered by
   * activity (`by`: one score per conversation, moved by each message), so a
   * message writes one score whatever the number of members. Costs one
   * round trip and work in the size of `index`, not of `by`.
   */
  rankedPage(index: string, by: string, options: { limit: number; before?: string }): Promise<string[] | undefined>;
}

/**
 * A record appended to a parent record in one atomic step (a message to its
 * conversation): see {@link Storage.append}.
 */
export interface Append {
  /** The new record's collection, the record and its index entries. */
  collection: string;
  doc: Doc;
  /** The new record expires this long after the append (its collection's retention, see {@link Retention}); never when 0. */
  ttlMs?: number;
  indexes: readonly IndexEntry[];
  /**
   * The new record's sequence: the next value of `counter`. It replaces
   * every `"<field>":-1` (for each of `fields`) in the record, the parent's
   * new fields and the events' payloads, so all of them carry it.
   */
  sequence: { counter: string; fields: readonly string[] };
  /**
   * The record it belongs to, in `collection`: it must exist and its field
   * `holds.field` must equal `holds.value` (e.g. its members, so the events'
   * audience is exact); then its top-level fields `set` are replaced. Their
   * old and new values are null, numbers or strings without `"` and `\`.
   */
  parent: {
    collection: string;
    id: string;
    holds: { field: string; value: unknown };
    set: Record<string, string | number | null>;
  };
  /** Indexes listing the parent (e.g. its organisation's activity): its entry in each moves to the next value of `counter`. */
  touch: { counter: string; indexes: readonly string[] };
}

/** Throws for an {@link Append} whose fields a backend could not patch safely (a programming error). */
export function assertAppendable(fields: readonly string[], set: Append['parent']['set']): void {
  for (const name of [...fields, ...Object.keys(set)]) {
    if (!/^[A-Za-z]+$/.test(name)) throw new Error(`append: field ${JSON.stringify(name)} is not a plain name`);
  }
  for (const value of Object.values(set)) {
    if (typeof value === 'string' && /["\\]/.test(value)) throw new Error('append: a set value holds " or \\');
  }
}

/** What {@link Storage.append} did: appended (with the sequence given), or nothing because the id was taken or the parent changed. */
export type AppendOutcome = { status: 'appended'; seq: number } | { status: 'taken' } | { status: 'parent-changed' };

/**
 * The state backend: collections, plus the few primitives that need to be
 * atomic across instances.
 */
export interface Storage {
  readonly kind: 'memory' | 'redis';
  /**
   * The same storage for one organisation's data: with Redis, its keys
   * carry the organisation's hash tag, so on a Redis Cluster organisations
   * spread over the shards while each write (with its indexes, events and
   * the commands it queues) stays in one slot. Every write that records
   * events of an organisation's channels goes through that organisation's
   * storage (an event of another organisation is refused, as it would be
   * CROSSSLOT on a cluster); the storage it is called on (the deployment's)
   * keeps what spans organisations. Names inside are the same as on the
   * deployment's storage; the memory backend returns itself.
   */
  forOrg(orgId: string): Storage;
  /**
   * The collection called `name`; with `retention`, its records expire (see
   * {@link Retention}). Every caller of one name must pass the same retention.
   */
  collection<T extends Doc>(name: string, retention?: Retention): Collection<T>;
  /** Next value of a named counter, starting at 1. */
  increment(counter: string): Promise<number>;
  /**
   * Sets `key` to `value` only if it is not set, for `ttlMs`; resolves the
   * value that is now stored (ours, or the one already there).
   * For idempotency keys and leases.
   */
  claim(key: string, value: string, ttlMs: number): Promise<string>;
  /** The value of a claimed key, if it has not expired. */
  peek(key: string): Promise<string | undefined>;
  /** Releases a claimed key, only while it still holds `value`. */
  release(key: string, value: string): Promise<boolean>;
  /**
   * Deadlines shared by every instance (typing indicators, instance
   * heartbeats). Starts or extends `member`'s deadline in `set` to `ttlMs`
   * from now, measured by the backend's clock (Redis `TIME`), so instances
   * whose clocks differ still agree. Resolves true when the member had no
   * deadline before (it is new, or was unscheduled or taken meanwhile).
   */
  schedule(set: string, member: string, ttlMs: number): Promise<boolean>;
  /**
   * Removes `member`'s deadline. Resolves true when it had one: of callers
   * racing each other (and {@link Storage.takeDue}), exactly one sees true.
   */
  unschedule(set: string, member: string): Promise<boolean>;
  /**
   * Up to `limit` members whose deadline has passed, each handed to one
   * caller only: its deadline moves `retryMs` ahead, so it falls due again
   * for another caller unless this one settles it with
   * {@link Storage.unschedule} (typically: unschedule, and act if that
   * resolved true). A caller that dies between the two is thus covered.
   */
  takeDue(set: string, options: { limit: number; retryMs: number }): Promise<string[]>;
  /** How many members of `set` have a deadline (due or not): zero once all were unscheduled. */
  scheduled(set: string): Promise<number>;
  /**
   * Extends a claimed key's TTL to `ttlMs` from now, only while it still
   * holds `value`: the renewal of a lease. False when it lapsed or another
   * holder took it.
   */
  renew(key: string, value: string, ttlMs: number): Promise<boolean>;
  /**
   * A pace shared by every instance: a rate limit of one slot per
   * `intervalMs` (no burst). Reserves `count` consecutive slots and resolves
   * the milliseconds from now until the first; slot `i` starts
   * `i * intervalMs` after it. Measured on the backend's clock (Redis
   * `TIME`), so instances whose clocks differ still agree.
   */
  pace(key: string, intervalMs: number, count: number): Promise<number>;
  /** The {@link Ledger} called `name`: claimable numbered work items with atomic states. */
  ledger(name: string): Ledger;
  /**
   * Token bucket: takes one token from `key`'s bucket, which holds up to
   * `capacity` and refills at `perSecond`. With Redis, one bucket is shared
   * by every instance (Redis's clock, so instances' clocks do not matter).
   */
  takeToken(key: string, capacity: number, perSecond: number): Promise<TokenTaken>;
  /**
   * Holds `member` in the bounded set `key` for `ttlMs`: renews it when it is
   * already held, adds it while fewer than `limit` live members are there,
   * and resolves false otherwise. Holders renew before `ttlMs` passes; the
   * slots of a crashed instance lapse by themselves.
   */
  holdSlot(key: string, member: string, limit: number, ttlMs: number): Promise<boolean>;
  /** Gives up a slot taken with {@link Storage.holdSlot}. */
  releaseSlot(key: string, member: string): Promise<void>;
  /**
   * Inserts a record, numbers it, updates the record it belongs to, moves
   * that record up in the indexes listing it and records `events`, all in
   * one atomic step (one Redis script): a write whose cost is one round
   * trip, whatever the number of indexes touched. Nothing is written when
   * the id is taken or the parent no longer holds what the caller read.
   */
  append(append: Append, events: readonly ChangeEvent[]): Promise<AppendOutcome>;
  /**
   * Renews, for `ttlMs` more, every slot an instance holds (`[key, member]`
   * pairs, any number of keys), in a few calls whatever their number; a
   * slot whose lease lapsed meanwhile is held again, never refused.
   */
  renewSlots(slots: ReadonlyArray<readonly [key: string, member: string]>, ttlMs: number): Promise<void>;
  /** True while the backend can serve (Redis reachable). */
  healthy(): Promise<boolean>;
  close(): Promise<void>;
}

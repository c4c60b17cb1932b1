import type { Ledger } from './ledger.js';
import { createMemoryLedger } from './memory-ledger.js';
import { createMemoryLimits } from './limits-memory.js';
import { withRetention } from './retention.js';
import {
  assertAppendable,
  indexMoves,
  type ChangeEvent,
  type Collection,
  type Doc,
  type RangeOptions,
  type Retention,
  type Storage,
} from './storage.js';

/** Hands the events of a change to this process's listeners (the memory event bus). */
export type DeliverEvents = (events: readonly ChangeEvent[]) => void;

/**
 * The maps behind a memory storage and its collections, under a symbol that
 * no caller of {@link Storage} sees: for the development state file
 * (src/dev/state-file.ts), which snapshots and restores them.
 */
export const MEMORY_STATE = Symbol('memory storage state');

/**
 * The embedded backend: state lives in this process and dies with it (unless
 * src/dev/state-file.ts keeps it). The events of a change go to `deliver`
 * (the memory event bus; without one, nobody can listen) in the same
 * synchronous step as the change, so no listener sees one without the other.
 */
export function createMemoryStorage(deliver?: DeliverEvents): Storage {
  const record: DeliverEvents = (events) => {
    if (events.length > 0) deliver?.(events);
  };
  const collections = new Map<string, MemoryCollection<Doc>>();
  const retained = new WeakSet<Collection<Doc>>();
  const counters = new Map<string, number>();
  const claims = new Map<string, { value: string; expiresAt: number }>();
  const paces = new Map<string, number>();
  const ledgers = new Map<string, Ledger>();
  const deadlines = new Map<string, Map<string, number>>();

  const collectionNamed = <T extends Doc>(name: string, retention?: Retention) => {
    let collection = collections.get(name);
    if (!collection) collections.set(name, (collection = createMemoryCollection<Doc>(record)));
    // The dev state file may have opened it first, without a retention: the retention applies from now on.
    if (retention && !retained.has(collection)) {
      collection[RETAIN]?.(retention);
      collections.set(name, (collection = withRetention(collection)));
      retained.add(collection);
    }
    return collection as unknown as Collection<T>;
  };
  const increment = (counter: string) => {
    const next = (counters.get(counter) ?? 0) + 1;
    counters.set(counter, next);
    return next;
  };

  const liveClaim = (key: string) => {
    const entry = claims.get(key);
    if (entry && entry.expiresAt <= Date.now()) {
      claims.delete(key);
      return undefined;
    }
    return entry;
  };

  const storage: Storage = {
    ...({ [MEMORY_STATE]: { collections, counters } } as object),
    kind: 'memory',
    collection: collectionNamed,
    // One process, no slots: every organisation's data is in the one storage (names already carry the org where two could meet).
    forOrg: () => storage,
    async increment(counter) {
      return increment(counter);
    },
    async claim(key, value, ttlMs) {
      const existing = liveClaim(key);
      if (existing) return existing.value;
      claims.set(key, { value, expiresAt: Date.now() + ttlMs });
      // Expired claims are dropped when read; sweep occasionally so they cannot pile up.
      if (claims.size % 1024 === 0) for (const k of claims.keys()) liveClaim(k);
      return value;
    },
    async peek(key) {
      return liveClaim(key)?.value;
    },
    async release(key, value) {
      if (liveClaim(key)?.value !== value) return false;
      claims.delete(key);
      return true;
    },
    async schedule(set, member, ttlMs) {
      let members = deadlines.get(set);
      if (!members) deadlines.set(set, (members = new Map()));
      const fresh = !members.has(member);
      members.set(member, Date.now() + ttlMs);
      return fresh;
    },
    async unschedule(set, member) {
      const members = deadlines.get(set);
      const had = members?.delete(member) ?? false;
      if (members?.size === 0) deadlines.delete(set);
      return had;
    },
    async takeDue(set, { limit, retryMs }) {
      const members = deadlines.get(set);
      if (!members) return [];
      const time = Date.now();
      const due = [...members]
        .filter(([, deadline]) => deadline <= time)
        .sort(([, a], [, b]) => a - b)
        .slice(0, limit)
        .map(([member]) => member);
      for (const member of due) members.set(member, time + retryMs);
      return due;
    },
    async scheduled(set) {
      return deadlines.get(set)?.size ?? 0;
    },
    async renew(key, value, ttlMs) {
      const entry = liveClaim(key);
      if (entry?.value !== value) return false;
      entry.expiresAt = Date.now() + ttlMs;
      return true;
    },
    async pace(key, intervalMs, count) {
      const now = performance.timeOrigin + performance.now();
      const start = Math.max(paces.get(key) ?? 0, now);
      paces.set(key, start + intervalMs * count);
      // Paces that lie in the past hold nothing back: drop them so they cannot pile up.
      if (paces.size % 1024 === 0) for (const [k, at] of paces) if (at < now) paces.delete(k);
      return start - now;
    },
    async append({ collection, doc, ttlMs = 0, indexes, sequence, parent, touch }, events) {
      assertAppendable(sequence.fields, parent.set);
      const child = stateOf(collectionNamed(collection));
      const owner = stateOf(collectionNamed(parent.collection));
      if (child.live.has(doc.id)) return { status: 'taken' };
      const found = owner.live.get(parent.id) as Record<string, unknown> | undefined;
      if (!found || JSON.stringify(found[parent.holds.field]) !== JSON.stringify(parent.holds.value)) {
        return { status: 'parent-changed' };
      }
      // Synchronous throughout: nothing else runs between the checks above and the writes below.
      const seq = increment(sequence.counter);
      const numbered = <V>(value: V): V => {
        let text = JSON.stringify(value);
        for (const field of sequence.fields) text = text.replaceAll(`"${field}":-1`, `"${field}":${seq}`);
        return JSON.parse(text) as V;
      };
      owner.live.set(parent.id, { ...found, ...numbered(parent.set), id: parent.id });
      child.live.set(doc.id, numbered(doc));
      child.expireIn(doc.id, ttlMs);
      for (const { index, score } of indexes) child.indexOf(index).set(doc.id, score === -1 ? seq : score);
      const activity = increment(touch.counter);
      for (const index of touch.indexes) owner.indexOf(index).set(parent.id, activity);
      record(events.map((event) => ({ ...event, payload: numbered(event.payload) })));
      return { status: 'appended', seq };
    },
    ledger(name) {
      let ledger = ledgers.get(name);
      if (!ledger) ledgers.set(name, (ledger = createMemoryLedger()));
      return ledger;
    },
    ...createMemoryLimits(),
    async healthy() {
      return true;
    },
    async close() {},
  };
  return storage;
}

/** The maps behind a memory collection, for the writes that span two collections ({@link Storage.append}). */
function stateOf(collection: Collection<Doc>) {
  return (collection as unknown as Record<typeof MEMORY_STATE, MemoryCollectionState>)[MEMORY_STATE];
}

interface MemoryCollectionState {
  /** Every stored record, expired or not (what the dev state file keeps). */
  docs: Map<string, Doc>;
  /** The records not expired: reads and writes of {@link Storage.append}. */
  live: Pick<Map<string, Doc>, 'get' | 'has' | 'set'>;
  indexes: Map<string, Map<string, number>>;
  indexOf(name: string): Map<string, number>;
  /** Makes a record expire `ttlMs` from now (0: never). */
  expireIn(id: string, ttlMs: number): void;
}

/** Sets a memory collection's retention (see {@link createMemoryCollection}). */
const RETAIN = Symbol('memory collection retention');
type MemoryCollection<T extends Doc> = Collection<T> & { [RETAIN]?: (retention: Retention) => void };

/**
 * Records are copied in and out, so callers can never alias stored state.
 * With a retention, a record expires as on Redis: it reads as missing from
 * its deadline on, and is dropped then (or by an occasional sweep).
 */
function createMemoryCollection<T extends Doc>(record: DeliverEvents): MemoryCollection<T> {
  let ttlMs = 0;
  let renewOnWrite = false;
  const stored = new Map<string, T>();
  const indexes = new Map<string, Map<string, number>>();
  const deadlines = new Map<string, number>();
  const copy = <V>(value: V): V => structuredClone(value);
  const expire = (id: string) => {
    const deadline = deadlines.get(id);
    if (deadline === undefined || deadline > Date.now()) return;
    stored.delete(id);
    deadlines.delete(id);
  };
  const live = (id: string) => {
    expire(id);
    return stored.get(id);
  };
  const setDeadline = (id: string) => {
    if (ttlMs <= 0) return;
    deadlines.set(id, Date.now() + ttlMs);
    // Records nobody reads again are dropped by this sweep, so they cannot pile up.
    if (deadlines.size % 1024 === 0) for (const key of [...deadlines.keys()]) expire(key);
  };
  /** The live records, as a map (`get`, `has`, `set`, `delete`) over the stored ones. */
  const docs = {
    get: live,
    has: (id: string) => live(id) !== undefined,
    set: (id: string, doc: T) => stored.set(id, doc),
    delete: (id: string) => {
      deadlines.delete(id);
      return stored.delete(id);
    },
  };

  const indexOf = (name: string) => {
    let index = indexes.get(name);
    if (!index) indexes.set(name, (index = new Map()));
    return index;
  };
  const unindexOne = (name: string, id: string) => {
    const index = indexes.get(name);
    index?.delete(id);
    if (index?.size === 0) indexes.delete(name);
  };
  const idsIn = (name: string, { order = 'asc', below, limit }: RangeOptions = {}) => {
    const entries = [...(indexes.get(name) ?? [])].filter(([, score]) => below === undefined || score < below);
    entries.sort(([idA, a], [idB, b]) => (a - b || (idA < idB ? -1 : idA > idB ? 1 : 0)) * (order === 'asc' ? 1 : -1));
    return entries.slice(0, limit ?? entries.length).map(([id]) => id);
  };

  return {
    ...{
      [MEMORY_STATE]: {
        docs: stored,
        live: docs,
        indexes,
        indexOf,
        expireIn: (id: string, ms: number) => {
          if (ms > 0 && stored.has(id)) deadlines.set(id, Date.now() + ms);
        },
      } satisfies MemoryCollectionState as object,
    },
    [RETAIN](retention: Retention) {
      ({ ttlMs, renewOnWrite = false } = retention);
      // Records restored by the dev state file have no deadline: they get a full one from now.
      for (const id of stored.keys()) if (!deadlines.has(id)) setDeadline(id);
    },
    async get(id) {
      const doc = docs.get(id);
      return doc && copy(doc);
    },
    async getMany(ids) {
      return ids.flatMap((id) => {
        const doc = docs.get(id);
        return doc ? [copy(doc)] : [];
      });
    },
    async insert(doc, entries = [], events = []) {
      if (docs.has(doc.id)) return false;
      docs.set(doc.id, copy(doc));
      setDeadline(doc.id);
      for (const { index, score, id } of entries) indexOf(index).set(id ?? doc.id, score);
      record(events);
      return true;
    },
    async update(id, change, indexes, events) {
      const current = docs.get(id);
      if (!current) return undefined;
      const before = copy(current);
      const next = change(copy(current));
      if (next === undefined) return { before, after: before, changed: false };
      const produced = events?.(copy(next), copy(before)) ?? [];
      docs.set(id, copy(next));
      if (renewOnWrite) setDeadline(id);
      if (indexes) {
        const { leave, join } = indexMoves(indexes(before), indexes(next));
        for (const entry of leave) unindexOne(entry.index, entry.id ?? id);
        for (const entry of join) indexOf(entry.index).set(entry.id ?? id, entry.score);
      }
      record(produced);
      return { before, after: copy(next), changed: true };
    },
    async remove(id, names = [], events) {
      const doc = docs.get(id);
      if (!doc) return undefined;
      const produced = events?.(copy(doc)) ?? [];
      docs.delete(id);
      for (const name of names) unindexOne(name, id);
      record(produced);
      return doc;
    },
    async expire(id, ttl) {
      if (stored.has(id)) deadlines.set(id, Date.now() + ttl);
    },
    async index(name, entries) {
      const index = indexOf(name);
      for (const { id, score } of entries) index.set(id, score);
    },
    async unindex(name, ids) {
      for (const id of ids) unindexOne(name, id);
    },
    async ids(name, options) {
      return idsIn(name, options);
    },
    async list(name, options) {
      return idsIn(name, options).flatMap((id) => {
        const doc = docs.get(id);
        return doc ? [copy(doc)] : [];
      });
    },
    async score(name, id) {
      return indexes.get(name)?.get(id);
    },
    async rankedPage(name, by, { limit, before }) {
      const others = indexes.get(by);
      const ranked = [...(indexes.get(name) ?? [])].map(([id, score]): [string, number] => [
        id,
        Math.max(score, others?.get(id) ?? -Infinity),
      ]);
      ranked.sort(([idA, a], [idB, b]) => b - a || (idA < idB ? 1 : idA > idB ? -1 : 0));
      const start = before === undefined ? 0 : ranked.findIndex(([id]) => id === before) + 1;
      if (start === 0 && before !== undefined) return undefined;
      return ranked.slice(start, start + limit).map(([id]) => id);
    },
    async count(name, { above = -Infinity, below = Infinity } = {}) {
      const index = indexes.get(name);
      if (above === -Infinity && below === Infinity) return index?.size ?? 0;
      let total = 0;
      for (const score of indexes.get(name)?.values() ?? []) if (score > above && score < below) total++;
      return total;
    },
  };
}

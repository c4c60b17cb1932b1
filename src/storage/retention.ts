import type { Collection, Doc, Retention } from './storage.js';

/** Index entries looked at per round of {@link withRetention}'s trim. */
const TRIM_BATCH = 100;
/** Rounds per trim: bounds one call's work; the next read carries on. */
const TRIM_ROUNDS = 10;

/**
 * A collection whose records expire (see `Retention`), with its indexes
 * kept free of entries whose records are gone: `list` drops those it meets,
 * and `count` first trims them from the low end of the index, in bounded
 * rounds, so counts (e.g. unread) stay right without any scanner.
 * Backend-neutral: the backend expires the records, this cleans the indexes.
 */
export function withRetention<T extends Doc>(collection: Collection<T>): Collection<T> {
  /** The records of `ids` that still exist, unindexing the others from `index`. */
  const present = async (index: string, ids: string[]) => {
    const docs = await collection.getMany(ids);
    if (docs.length < ids.length) {
      const found = new Set(docs.map((doc) => doc.id));
      await collection.unindex(
        index,
        ids.filter((id) => !found.has(id)),
      );
    }
    return docs;
  };

  /**
   * Drops the expired entries at the low end of `index` (oldest first), up
   * to a bound. The first round looks at the lowest entry only: usually it
   * is there, and the check costs one record read.
   */
  const trim = async (index: string) => {
    for (let round = 0; round < TRIM_ROUNDS; round++) {
      const ids = await collection.ids(index, { order: 'asc', limit: round === 0 ? 1 : TRIM_BATCH });
      if (ids.length === 0) return;
      const docs = await collection.getMany(ids);
      const found = new Set(docs.map((doc) => doc.id));
      const firstKept = ids.findIndex((id) => found.has(id));
      const expired = firstKept === -1 ? ids : ids.slice(0, firstKept);
      await collection.unindex(index, expired);
      if (expired.length < ids.length) return;
    }
  };

  return {
    ...collection,
    async list(index, options) {
      return present(index, await collection.ids(index, options));
    },
    async count(index, options) {
      await trim(index);
      return collection.count(index, options);
    },
  };
}

/** A retention of `seconds` (a setting), or none when it is 0: kept for good. */
export function retentionOf(seconds: number, options: Omit<Retention, 'ttlMs'> = {}): Retention | undefined {
  return seconds > 0 ? { ttlMs: seconds * 1000, ...options } : undefined;
}

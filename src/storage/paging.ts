import type { Collection, Doc } from './storage.js';

/**
 * A page of an index read newest (highest score) first, after a cursor: up
 * to `limit` records ranked below the record `before` in `index`, or from
 * the top without one. Undefined when `before` is not in the index (the
 * caller answers `NOT_FOUND`). For indexes with whole-number scores (times
 * in ms, counters): records sharing the cursor's score are ordered by id,
 * as both backends order ties, so none is skipped or repeated.
 */
export async function pageBefore<T extends Doc>(
  collection: Collection<T>,
  index: string,
  { limit, before }: { limit: number; before?: string | null },
): Promise<T[] | undefined> {
  if (before == null) return collection.list(index, { order: 'desc', limit });
  const score = await collection.score(index, before);
  if (score === undefined) return undefined;
  const ties = await collection.count(index, { above: score - 1, below: score + 1 });
  const ids = await collection.ids(index, { order: 'desc', below: score + 1, limit: limit + ties });
  const start = ids.indexOf(before) + 1;
  return collection.getMany(ids.slice(start, start + limit));
}

export type { Collection, Doc, IndexEntry, RangeOptions, Storage, Updated } from './storage.js';
export { createMemoryStorage } from './memory.js';
export { createRedisStorage } from './redis.js';

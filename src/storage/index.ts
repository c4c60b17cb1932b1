export type {
  Append,
  AppendOutcome,
  ChangeEvent,
  Collection,
  Doc,
  IndexEntry,
  RangeOptions,
  Retention,
  Storage,
  Updated,
} from './storage.js';
export {
  CLAIMED,
  PENDING,
  type Ledger,
  type LedgerClaim,
  type LedgerCounts,
  type LedgerMove,
  type LedgerMoved,
} from './ledger.js';
export { createMemoryStorage } from './memory.js';
export { retentionOf } from './retention.js';
export { createRedisStorage } from './redis.js';
export { trackWrites, sendWrite, failureOutcome, isRedisOutage } from './write-outcome.js';

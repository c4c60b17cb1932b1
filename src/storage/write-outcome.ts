import { AsyncLocalStorage } from 'node:async_hooks';

/** What one operation (a GraphQL execution, a publisher call) has sent to the backend so far. */
interface WriteLog {
  /** Write commands that may have reached Redis: sent, or in flight. */
  writes: number;
}

const operations = new AsyncLocalStorage<WriteLog>();

/**
 * What a failure of an operation means for its writes:
 * - `not-done`: the backend failed before any write of the operation could
 *   reach it; nothing changed, a retry is safe (`SERVICE_UNAVAILABLE`);
 * - `unknown`: a write was sent and its reply was lost (timeout, connection
 *   dropped), so it may have been applied (`OUTCOME_UNKNOWN`);
 * - `other`: not a backend failure (a bug, a refused input): the caller's
 *   usual handling applies.
 */
export type FailureOutcome = 'not-done' | 'unknown' | 'other';

/**
 * Runs one operation with its own write log, so that a failure can be
 * classified honestly by {@link failureOutcome}: an error never says a
 * write was not done unless none was sent. Entered once per operation by
 * the GraphQL pipeline and by the publisher.
 */
export function trackWrites<T>(operation: () => T): { result: T; log: WriteLog } {
  const log: WriteLog = { writes: 0 };
  return { result: operations.run(log, operation), log };
}

/**
 * Sends one write command of the current operation. Storage backends call
 * this for every command that changes state (reads do not), before it is
 * sent: a write whose reply never comes back may still have been applied.
 * A write that provably never left the process does not count.
 */
export async function sendWrite<T>(send: () => Promise<T>): Promise<T> {
  const log = operations.getStore();
  if (log) log.writes++;
  try {
    return await send();
  } catch (error) {
    if (log && neverSent(error)) log.writes--;
    throw error;
  }
}

/** How `error`, which ended an operation with the write log `log`, is to be reported. */
export function failureOutcome(error: unknown, log: WriteLog | undefined): FailureOutcome {
  if (!isRedisOutage(error)) return 'other';
  return log && log.writes > 0 ? 'unknown' : 'not-done';
}

/** True for the errors of an unreachable or unresponsive Redis (ioredis and our event bus). */
export function isRedisOutage(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (
    error.name === 'MaxRetriesPerRequestError' ||
    error.name === 'RedisUnavailableError' ||
    /Connection is closed|Stream isn't writeable|Command timed out|ECONNREFUSED|ECONNRESET/.test(error.message)
  );
}

/**
 * ioredis refuses a command without sending it when the connection is not
 * writable (we run without its offline queue: see src/redis.ts). Every other
 * failure (timeout, connection closed, retries exhausted) may hit a command
 * that was already written to the socket.
 */
function neverSent(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith("Stream isn't writeable");
}

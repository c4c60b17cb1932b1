import { Redis } from 'ioredis';
import type { Logger } from './logger.js';

/** How long a command may go unanswered when `REDIS_COMMAND_TIMEOUT_MS` (or the publisher's option) is not given. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 5000;

/** Opens an ioredis connection and waits until it is ready to serve. */
export async function connectRedis(
  url: string,
  options: { name: string; logger: Logger; connectTimeoutMs?: number; commandTimeoutMs?: number },
): Promise<Redis> {
  const { name, logger, connectTimeoutMs = 5000, commandTimeoutMs = DEFAULT_COMMAND_TIMEOUT_MS } = options;
  const redis = new Redis(url, {
    connectionName: name,
    lazyConnect: true,
    // Fail fast while Redis is away instead of queueing: a mutation must say it
    // failed rather than hang; subscriptions are restored by autoResubscribe.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // A command written to a connection that then dropped may have run: ioredis
    // would send it again after reconnecting (by default), applying a write
    // twice, possibly after its caller was told OUTCOME_UNKNOWN and retried.
    // Each write is sent at most once; an unanswered one fails by the command
    // timeout (or when the retries are exhausted) and the caller hears
    // OUTCOME_UNKNOWN (src/storage/write-outcome.ts).
    autoResendUnfulfilledCommands: false,
    commandTimeout: commandTimeoutMs,
    connectTimeout: connectTimeoutMs,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  });
  let lastError = '';
  redis.on('error', (error: Error) => {
    // ioredis reports every failed reconnect attempt; log each distinct cause once.
    if (error.message !== lastError) logger.warn({ redis: name, err: error.message }, 'redis connection error');
    lastError = error.message;
  });
  redis.on('ready', () => {
    if (lastError) logger.info({ redis: name }, 'redis connection restored');
    lastError = '';
  });
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    throw new Error(`Cannot connect to Redis at ${redactUrl(url)}: ${(error as Error).message}`, { cause: error });
  }
  return redis;
}

/** Closes a connection politely, or drops it if Redis does not answer. */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  try {
    if (redis.status === 'ready') {
      await Promise.race([redis.quit(), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    }
  } catch {
    // Already gone.
  } finally {
    redis.disconnect();
  }
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'REDIS_URL';
  }
}

import { Cluster, Redis } from 'ioredis';
import type { Logger } from './logger.js';

/** How long a command may go unanswered when `REDIS_COMMAND_TIMEOUT_MS` (or the publisher's option) is not given. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 5000;

/**
 * A connection to the deployment's Redis: one server (`REDIS_URL`) or a
 * Redis Cluster (`REDIS_CLUSTER_NODES`). Both take the same commands; on a
 * cluster every multi-key command must stay in one hash slot (see
 * docs/redis-keys.md) and events go over sharded pub/sub.
 */
export type RedisClient = Redis | Cluster;

/** Where the deployment's Redis is: a URL, or the seed nodes of a Redis Cluster. */
export type RedisTarget = { url: string } | { clusterNodes: readonly string[] };

/** The configured target, if any: `REDIS_URL` or `REDIS_CLUSTER_NODES` (the config refuses both). */
export function redisTarget(config: {
  redisUrl?: string | undefined;
  redisClusterNodes?: readonly string[] | undefined;
}): RedisTarget | undefined {
  if (config.redisClusterNodes?.length) return { clusterNodes: config.redisClusterNodes };
  return config.redisUrl ? { url: config.redisUrl } : undefined;
}

/** True for a connection to a Redis Cluster. */
export function isCluster(redis: RedisClient): redis is Cluster {
  return redis instanceof Cluster;
}

/** Opens an ioredis connection (or cluster client) and waits until it is ready to serve. */
export async function connectRedis(
  target: string | RedisTarget,
  options: { name: string; logger: Logger; connectTimeoutMs?: number; commandTimeoutMs?: number },
): Promise<RedisClient> {
  const { name, logger, connectTimeoutMs = 5000, commandTimeoutMs = DEFAULT_COMMAND_TIMEOUT_MS } = options;
  const where = typeof target === 'string' ? { url: target } : target;
  const connection = {
    connectionName: name,
    // A command written to a connection that then dropped may have run: ioredis
    // would send it again after reconnecting (by default), applying a write
    // twice, possibly after its caller was told OUTCOME_UNKNOWN and retried.
    // Each write is sent at most once; an unanswered one fails by the command
    // timeout (or when the retries are exhausted) and the caller hears
    // OUTCOME_UNKNOWN (src/storage/write-outcome.ts).
    autoResendUnfulfilledCommands: false,
    commandTimeout: commandTimeoutMs,
    connectTimeout: connectTimeoutMs,
    maxRetriesPerRequest: 1,
  };
  const redis: RedisClient =
    'url' in where
      ? new Redis(where.url, {
          ...connection,
          lazyConnect: true,
          // Fail fast while Redis is away instead of queueing: a mutation must say it
          // failed rather than hang; subscriptions are restored by autoResubscribe.
          enableOfflineQueue: false,
          retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
        })
      : new Cluster(where.clusterNodes.map(parseNode), {
          lazyConnect: true,
          enableOfflineQueue: false,
          // One subscriber connection per master: SSUBSCRIBE goes to the shard of its channel's slot,
          // and ioredis subscribes again wherever a slot moves or a shard fails over.
          shardedSubscribers: true,
          // A failover or a moved slot is noticed within this, even without a MOVED reply.
          slotsRefreshInterval: 2000,
          clusterRetryStrategy: (attempt) => Math.min(attempt * 200, 2000),
          redisOptions: connection,
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
    throw new Error(`Cannot connect to Redis at ${describeTarget(where)}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return redis;
}

/** Closes a connection politely, or drops it if Redis does not answer. */
export async function closeRedis(redis: RedisClient): Promise<void> {
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

function describeTarget(target: RedisTarget): string {
  return 'url' in target ? redactUrl(target.url) : `the cluster seeds ${target.clusterNodes.join(',')}`;
}

/** `host:port` as ioredis takes a cluster seed. */
function parseNode(node: string): { host: string; port: number } {
  const colon = node.lastIndexOf(':');
  return { host: node.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port: Number(node.slice(colon + 1)) };
}

/** The ioredis command each Lua script was defined as, per connection. */
const definedScripts = new WeakMap<RedisClient, Map<string, string>>();

/**
 * Runs a Lua script by its SHA1 (`EVALSHA`), sending its text (`EVAL`) only
 * when Redis does not know it yet, e.g. after a restart: ioredis' own
 * `defineCommand` does the caching and the fallback. A script that records
 * events is ~10 KB; sent with every call, Redis hashed it every time and a
 * send paid about 35 µs more per script.
 */
export function runScript(
  redis: RedisClient,
  script: string,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  let defined = definedScripts.get(redis);
  if (!defined) definedScripts.set(redis, (defined = new Map()));
  let name = defined.get(script);
  if (!name) {
    name = `realtimeScript${defined.size}`;
    redis.defineCommand(name, { lua: script });
    defined.set(script, name);
  }
  const command = (redis as unknown as Record<string, (...args: (string | number)[]) => Promise<unknown>>)[name]!;
  // Without `numberOfKeys` in the definition, the key count is the first argument, as with EVAL.
  return command.call(redis, keys.length, ...keys, ...args);
}

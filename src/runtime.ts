import {
  DEFAULT_COMMAND_CLAIM_IDLE_MS,
  DEFAULT_PRESENCE_CONFIG,
  DEFAULT_CONVERSATION_CONFIG,
  DEFAULT_RESUME_WINDOW_SECONDS,
  DEFAULT_RETENTION,
  type Config,
} from './config.js';
import type { EventBus } from './events/bus.js';
import { isCommandChannel, type CommandQueue } from './events/commands.js';
import { createMemoryCommandQueue } from './events/commands-memory.js';
import { createRedisCommandQueue } from './events/commands-redis.js';
import { createMemoryEventBus } from './events/memory.js';
import { createRedisEventBus } from './events/redis.js';
import { createRedisEventRecorder } from './events/record-redis.js';
import type { Logger } from './logger.js';
import { checkEvictionPolicy } from './redis-eviction.js';
import { closeRedis, connectRedis, DEFAULT_COMMAND_TIMEOUT_MS, redisTarget, type RedisClient } from './redis.js';
import { keySpace } from './lib/keys.js';
import { closeServices, createServices, type Services } from './services.js';
import { createMemoryStorage, createRedisStorage, type Storage } from './storage/index.js';

/** The process-wide pieces a server (or a worker) runs on, and how to dispose them. */
export interface Runtime {
  storage: Storage;
  bus: EventBus;
  /** Where internal commands wait for a worker (see {@link CommandQueue}). */
  commands: CommandQueue;
  services: Services;
  /** True while state and events can be served (Redis reachable, when configured). */
  healthy(): Promise<boolean>;
  /** A PING on the Redis command connection (the metrics' latency probe); absent on the embedded engine. */
  redisPing?: () => Promise<unknown>;
  close(): Promise<void>;
  /**
   * Drops the Redis connections at once: commands still waiting on an
   * unresponsive Redis fail instead of holding up a shutdown. `close()`
   * then settles promptly.
   */
  disconnect(): void;
}

/**
 * Connects the backends named by the configuration: Redis for state and
 * events when `REDIS_URL` is set, or a Redis Cluster when
 * `REDIS_CLUSTER_NODES` is (an organisation's keys under its own hash
 * tag, events over sharded pub/sub: see `keySpace`) (two connections: commands and publishes,
 * and a subscriber; a worker opens one more per command queue it reads), the embedded in-memory engine otherwise. A Redis whose
 * `maxmemory-policy` may evict keys is refused in production (see
 * `checkEvictionPolicy`) and warned about elsewhere.
 */
export async function createRuntime(
  config: Pick<Config, 'redisUrl' | 'redisPrefix'> &
    Partial<
      Pick<
        Config,
        | 'redisClusterNodes'
        | 'presence'
        | 'conversations'
        | 'nodeEnv'
        | 'redisAllowEviction'
        | 'redisCommandTimeoutMs'
        | 'commandClaimIdleMs'
        | 'resumeWindowSeconds'
        | 'retention'
      >
    > & {
      limits?: Pick<Config['limits'], 'subscriptionMaxQueuedEvents'>;
    },
  logger: Logger,
  // Background work (sweepers, in-process workers) belongs to servers and workers, not to publishers.
  { background = true }: { background?: boolean } = {},
): Promise<Runtime> {
  const maxQueuedEvents = config.limits?.subscriptionMaxQueuedEvents;
  const resumeWindowMs = (config.resumeWindowSeconds ?? DEFAULT_RESUME_WINDOW_SECONDS) * 1000;
  let storage: Storage;
  let bus: EventBus;
  let queue: CommandQueue;
  let connections: RedisClient[] = [];
  let redisPing: Runtime['redisPing'];
  const target = redisTarget(config);
  if (target) {
    const commandTimeoutMs = config.redisCommandTimeoutMs;
    const keys = keySpace(config.redisPrefix, 'clusterNodes' in target);
    const commands = await connectRedis(target, { name: 'commands', logger, commandTimeoutMs });
    // In production a Redis that may evict keys is refused (REDIS_ALLOW_EVICTION=true overrides); elsewhere a warning.
    const stance = config.nodeEnv === 'production' && !config.redisAllowEviction ? 'refuse' : 'warn';
    await checkEvictionPolicy(commands, stance, logger).catch(async (error: unknown) => {
      await closeRedis(commands);
      throw error;
    });
    const subscriber = await connectRedis(target, { name: 'subscriber', logger, commandTimeoutMs }).catch(
      async (error) => {
        await closeRedis(commands);
        throw error;
      },
    );
    connections = [commands, subscriber];
    redisPing = () => commands.ping();
    // Writes and publishes record events alike: same history, same offsets.
    const record = createRedisEventRecorder(keys, resumeWindowMs, { sharded: 'clusterNodes' in target });
    storage = createRedisStorage(commands, keys, record);
    bus = createRedisEventBus({
      publisher: commands,
      subscriber,
      keys,
      logger,
      maxQueuedEvents,
      resumeWindowMs,
      record,
    });
    queue = createRedisCommandQueue({
      redis: commands,
      // A consumer's blocking read waits up to blockMs: its connection's command timeout allows for it.
      connect: (name, blockMs) =>
        connectRedis(target, {
          name,
          logger,
          commandTimeoutMs: blockMs + (commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS),
        }),
      keys,
      claimIdleMs: config.commandClaimIdleMs ?? DEFAULT_COMMAND_CLAIM_IDLE_MS,
      logger,
    });
  } else {
    const memoryBus = createMemoryEventBus({ maxQueuedEvents, logger, resumeWindowMs });
    const memoryCommands = createMemoryCommandQueue({ logger });
    // Synchronous up to delivery (which they queue): events and commands go out in the write's step.
    storage = createMemoryStorage((events) =>
      events.forEach((event) =>
        isCommandChannel(event.channel)
          ? void memoryCommands.send(event.channel, event.payload)
          : void memoryBus.publish(event.channel, event.payload),
      ),
    );
    bus = memoryBus;
    queue = memoryCommands;
  }
  const services = createServices({
    storage,
    bus,
    logger,
    background,
    presence: config.presence ?? DEFAULT_PRESENCE_CONFIG,
    conversations: config.conversations ?? DEFAULT_CONVERSATION_CONFIG,
    retention: config.retention ?? DEFAULT_RETENTION,
  });
  return {
    storage,
    bus,
    commands: queue,
    services,
    redisPing,
    healthy: async () => connections.every((redis) => redis.status === 'ready') && (await storage.healthy()),
    async close() {
      await closeServices(services);
      await queue.close();
      await bus.close();
      await storage.close();
      await Promise.all(connections.map(closeRedis));
    },
    disconnect() {
      for (const redis of connections) redis.disconnect();
    },
  };
}

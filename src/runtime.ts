import type { Redis } from 'ioredis';
import { DEFAULT_PRESENCE_CONFIG, type Config } from './config.js';
import type { EventBus } from './events/bus.js';
import { redisEventWire } from './events/change-event.js';
import { createMemoryEventBus } from './events/memory.js';
import { createRedisEventBus } from './events/redis.js';
import type { Logger } from './logger.js';
import { checkEvictionPolicy } from './redis-eviction.js';
import { closeRedis, connectRedis } from './redis.js';
import { closeServices, createServices, type Services } from './services.js';
import { createMemoryStorage, createRedisStorage, type Storage } from './storage/index.js';

/** The process-wide pieces a server (or a worker) runs on, and how to dispose them. */
export interface Runtime {
  storage: Storage;
  bus: EventBus;
  services: Services;
  /** True while state and events can be served (Redis reachable, when configured). */
  healthy(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Connects the backends named by the configuration: Redis for state and
 * events when `REDIS_URL` is set (two connections: commands and publishes,
 * and a subscriber), the embedded in-memory engine otherwise. A Redis whose
 * `maxmemory-policy` may evict keys is refused in production (see
 * `checkEvictionPolicy`) and warned about elsewhere.
 */
export async function createRuntime(
  config: Pick<Config, 'redisUrl' | 'redisPrefix'> &
    Partial<Pick<Config, 'presence' | 'nodeEnv' | 'redisAllowEviction' | 'redisCommandTimeoutMs'>> & {
      limits?: Pick<Config['limits'], 'subscriptionMaxQueuedEvents'>;
    },
  logger: Logger,
  // Background work (sweepers, in-process workers) belongs to servers and workers, not to publishers.
  { background = true }: { background?: boolean } = {},
): Promise<Runtime> {
  const maxQueuedEvents = config.limits?.subscriptionMaxQueuedEvents;
  let storage: Storage;
  let bus: EventBus;
  let connections: Redis[] = [];
  if (config.redisUrl) {
    const commandTimeoutMs = config.redisCommandTimeoutMs;
    const commands = await connectRedis(config.redisUrl, { name: 'commands', logger, commandTimeoutMs });
    // In production a Redis that may evict keys is refused (REDIS_ALLOW_EVICTION=true overrides); elsewhere a warning.
    const stance = config.nodeEnv === 'production' && !config.redisAllowEviction ? 'refuse' : 'warn';
    await checkEvictionPolicy(commands, stance, logger).catch(async (error: unknown) => {
      await closeRedis(commands);
      throw error;
    });
    const subscriber = await connectRedis(config.redisUrl, { name: 'subscriber', logger, commandTimeoutMs }).catch(
      async (error) => {
        await closeRedis(commands);
        throw error;
      },
    );
    connections = [commands, subscriber];
    storage = createRedisStorage(commands, config.redisPrefix, redisEventWire(config.redisPrefix));
    bus = createRedisEventBus({ publisher: commands, subscriber, prefix: config.redisPrefix, logger, maxQueuedEvents });
  } else {
    const memoryBus = createMemoryEventBus({ maxQueuedEvents, logger });
    // Synchronous up to delivery (which it queues): events go out in the write's step.
    storage = createMemoryStorage((events) =>
      events.forEach((event) => void memoryBus.publish(event.channel, event.payload)),
    );
    bus = memoryBus;
  }
  const services = createServices({
    storage,
    bus,
    logger,
    background,
    presence: config.presence ?? DEFAULT_PRESENCE_CONFIG,
  });
  return {
    storage,
    bus,
    services,
    healthy: async () => connections.every((redis) => redis.status === 'ready') && (await storage.healthy()),
    async close() {
      await closeServices(services);
      await bus.close();
      await storage.close();
      await Promise.all(connections.map(closeRedis));
    },
  };
}

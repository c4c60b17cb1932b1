import { RedisPubSub } from 'graphql-redis-subscriptions';
import type { Redis } from 'ioredis';
import type { EventBus } from './bus.js';

/**
 * The shared engine: `graphql-redis-subscriptions` over two ioredis
 * connections (a subscriber connection can issue no other command).
 * One Redis SUBSCRIBE per channel per process, one JSON.parse per message.
 */
export function createRedisEventBus(options: { publisher: Redis; subscriber: Redis; prefix: string }): EventBus {
  const pubsub = new RedisPubSub({ publisher: options.publisher, subscriber: options.subscriber });
  const live = new Set<number>();
  return {
    kind: 'redis',
    async publish(channel, payload) {
      await pubsub.publish(options.prefix + channel, payload);
    },
    async listen(channel, listener) {
      // Resolves only after Redis confirmed SUBSCRIBE, so an unlisten always
      // finds the reference (graphql-redis-subscriptions drops early unsubscribes).
      const id = await pubsub.subscribe(options.prefix + channel, listener as (payload: unknown) => void);
      live.add(id);
      return () => {
        if (!live.delete(id)) return;
        pubsub.unsubscribe(id);
      };
    },
    async close() {
      for (const id of live) pubsub.unsubscribe(id);
      live.clear();
    },
  };
}

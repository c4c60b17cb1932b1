import { RedisPubSub } from 'graphql-redis-subscriptions';
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import { sendWrite } from '../storage/write-outcome.js';
import type { EventBus } from './bus.js';
import { redisEventWire } from './change-event.js';

/** Thrown when a listener is asked for while the subscriber connection is down. */
export class RedisUnavailableError extends Error {
  override name = 'RedisUnavailableError';
}

/**
 * The shared engine: `graphql-redis-subscriptions` over two ioredis
 * connections (a subscriber connection can issue no other command).
 * One Redis SUBSCRIBE per channel per process, one JSON.parse per message.
 *
 * Redis outages: listeners live through them (ioredis `autoResubscribe`
 * subscribes every channel again once the connection is ready, and the
 * pubsub's message handler stays attached), though what was published
 * meanwhile is lost (Pub/Sub is at-most-once). A new listener fails at once
 * with {@link RedisUnavailableError} instead of leaving a dangling entry in
 * the pubsub. An UNSUBSCRIBE that cannot be sent is not an unhandled
 * rejection (which would end the process) but is sent again once the
 * connection is back, so no channel stays subscribed for good.
 */
export function createRedisEventBus(options: {
  publisher: Redis;
  subscriber: Redis;
  prefix: string;
  logger?: Logger;
  maxQueuedEvents?: number;
}): EventBus {
  const { publisher, subscriber, prefix, logger, maxQueuedEvents } = options;
  const pubsub = new RedisPubSub({ publisher, subscriber });
  const wire = redisEventWire(prefix);
  /** Listener ids by Redis channel, to know which channels are still wanted. */
  const listening = new Map<string, Set<number>>();
  /** Channels whose UNSUBSCRIBE failed while Redis was away. */
  const orphaned = new Set<string>();

  // graphql-redis-subscriptions calls these without handling their promise.
  for (const command of ['unsubscribe', 'punsubscribe'] as const) {
    const original = subscriber[command].bind(subscriber) as (...channels: string[]) => Promise<unknown>;
    (subscriber as unknown as Record<string, unknown>)[command] = (...channels: string[]) => {
      const sent = original(...channels);
      sent.catch(() => {
        if (command === 'unsubscribe') for (const channel of channels) orphaned.add(channel);
      });
      return sent;
    };
  }
  const onReady = () => {
    // autoResubscribe has just subscribed every channel ioredis still knew of.
    const stale = [...orphaned].filter((channel) => !listening.has(channel));
    orphaned.clear();
    if (stale.length > 0) {
      logger?.info({ channels: stale.length }, 'releasing channels left subscribed by an outage');
      subscriber.unsubscribe(...stale).catch(() => stale.forEach((channel) => orphaned.add(channel)));
    }
  };
  subscriber.on('ready', onReady);

  return {
    kind: 'redis',
    maxQueuedEvents,
    async publish(channel, payload) {
      const { channel: name, message } = wire({ channel, payload });
      await sendWrite(() => publisher.publish(name, message));
    },
    async listen(channel, listener) {
      if (subscriber.status !== 'ready') throw new RedisUnavailableError('Redis subscriber connection is not ready');
      const name = prefix + channel;
      // Resolves only after Redis confirmed SUBSCRIBE, so an unlisten always
      // finds the reference (graphql-redis-subscriptions drops early unsubscribes).
      const id = await pubsub.subscribe(name, listener as (payload: unknown) => void);
      let ids = listening.get(name);
      if (!ids) listening.set(name, (ids = new Set()));
      ids.add(id);
      return () => {
        if (!ids.delete(id)) return;
        if (ids.size === 0 && listening.get(name) === ids) listening.delete(name);
        pubsub.unsubscribe(id);
      };
    },
    async close() {
      subscriber.off('ready', onReady);
      for (const ids of listening.values()) for (const id of ids) pubsub.unsubscribe(id);
      listening.clear();
    },
  };
}

import type { Cluster } from 'ioredis';
import type { Logger } from '../logger.js';

/**
 * The part of `graphql-redis-subscriptions`' RedisPubSub the bus uses,
 * over Redis Cluster's sharded pub/sub (SSUBSCRIBE / SUNSUBSCRIBE), which
 * that library does not speak. The bus subscribes each channel once
 * (it fans out itself), so this holds one handler per channel.
 *
 * ioredis (`shardedSubscribers`) keeps one subscriber connection per
 * master, sends each SSUBSCRIBE to its channel's shard, and, whenever the
 * slot map changes (a failover, a slot moved) or a subscriber connection
 * ends, subscribes every channel again on the shard that now serves it,
 * then emits `subscribersReady`.
 *
 * Messages are untrusted: text that is not JSON is handed over as it is,
 * as graphql-redis-subscriptions does, and refused by the bus's schema check.
 */
export function createShardedPubSub(cluster: Cluster, logger?: Logger) {
  const handlers = new Map<string, (message: unknown) => void>();
  const channels = new Map<number, string>();
  let nextId = 0;

  const onMessage = (channel: string, text: string) => {
    const handler = handlers.get(channel);
    if (!handler) return;
    let message: unknown = text;
    try {
      message = JSON.parse(text);
    } catch {
      // Not JSON: refused by the schema check.
    }
    handler(message);
  };
  cluster.on('smessage', onMessage);

  return {
    /** Resolves with an id for {@link unsubscribe} once the channel's shard confirmed SSUBSCRIBE. */
    async subscribe(channel: string, handler: (message: unknown) => void): Promise<number> {
      handlers.set(channel, handler);
      try {
        await cluster.ssubscribe(channel);
      } catch (error) {
        if (handlers.get(channel) === handler) handlers.delete(channel);
        throw error;
      }
      const id = ++nextId;
      channels.set(id, channel);
      return id;
    },
    /**
     * Stops hearing the channel. ioredis forgets it at once (it is not
     * subscribed again after a failover) even when the SUNSUBSCRIBE cannot be
     * sent; the shard drops it with the connection then.
     */
    unsubscribe(id: number) {
      const channel = channels.get(id);
      if (channel === undefined) return;
      channels.delete(id);
      handlers.delete(channel);
      cluster.sunsubscribe(channel).catch((error: unknown) => {
        logger?.debug({ err: String(error), channel }, 'SUNSUBSCRIBE not sent');
      });
    },
    close() {
      cluster.off('smessage', onMessage);
    },
  };
}

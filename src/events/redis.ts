import { RedisPubSub } from 'graphql-redis-subscriptions';
import { isCluster, runScript, type RedisClient } from '../redis.js';
import type { Logger } from '../logger.js';
import { sendWrite } from '../storage/write-outcome.js';
import type { EventBus } from './bus.js';
import { catchUpAfterOutages, unwrap, type HeardChannel } from './catch-up-redis.js';
import { createRedisHistory } from './history-redis.js';
import { createShardedPubSub } from './sharded-pubsub.js';
import { createEventIntake, type Listener } from './intake.js';
import type { KeySpace } from '../lib/keys.js';
import { createRedisEventRecorder, PUBLISH_EVENTS, publishScope, type RedisEventRecorder } from './record-redis.js';
import { requireChannelContract, type ChannelContract } from './topics.js';

/** Thrown when a listener is asked for while the subscriber connection is down. */
export class RedisUnavailableError extends Error {
  override name = 'RedisUnavailableError';
}

/**
 * The shared engine: `graphql-redis-subscriptions` over two ioredis
 * connections (a subscriber connection can issue no other command).
 * One Redis SUBSCRIBE, one pubsub listener, one JSON.parse and one schema
 * check per channel and message in a process, whatever the number of
 * listeners; the bus fans the checked payload out to them itself.
 *
 * Every message is untrusted: graphql-redis-subscriptions hands over text
 * that is not JSON as it is (its JSON.parse is in a try/catch), and the
 * schema check refuses it like any other malformed payload. Nothing a
 * listener does can throw back into ioredis' socket handler (where it would
 * end the process).
 *
 * Publishing runs RECORD_EVENTS (./record-redis.ts), as a write that
 * records events does: with a resume window, an organisation event is
 * kept in its channel's history and arrives as `{offset, payload}`; the
 * payload is handed on with its offset tagged (see `offsetOf`), an offset
 * that is not one is ignored.
 *
 * Redis outages: listeners live through them (ioredis `autoResubscribe`
 * subscribes every channel again once the connection is ready, and the
 * pubsub's message handler stays attached), though what was published
 * meanwhile does not reach them live (Pub/Sub is at-most-once); with a
 * history, each channel catches up on it once the connection is back
 * (./catch-up-redis.ts). A new listener fails at once
 * with {@link RedisUnavailableError} instead of leaving a dangling entry in
 * the pubsub. An UNSUBSCRIBE that cannot be sent is not an unhandled
 * rejection (which would end the process) but is sent again once the
 * connection is back, so no channel stays subscribed for good.
 *
 * On a Redis Cluster (`subscriber` is an ioredis Cluster) the same bus
 * runs over sharded pub/sub instead (./sharded-pubsub.ts): SSUBSCRIBE on
 * the shard of each channel's slot, events recorded with SPUBLISH.
 */
export function createRedisEventBus(options: {
  publisher: RedisClient;
  subscriber: RedisClient;
  /** Where the deployment's channels and history are (an organisation's in its own slot). */
  keys: KeySpace;
  logger?: Logger;
  maxQueuedEvents?: number;
  /** RESUME_WINDOW_SECONDS in ms (0: no history, no offsets). */
  resumeWindowMs?: number;
  /** How events are recorded (the storage's, so both write alike); made from `keys` and the window otherwise. */
  record?: RedisEventRecorder;
}): EventBus {
  const { publisher, subscriber, keys, logger, maxQueuedEvents, resumeWindowMs = 0 } = options;
  const sharded = isCluster(subscriber) ? createShardedPubSub(subscriber, logger) : undefined;
  const pubsub = sharded ?? new RedisPubSub({ publisher, subscriber });
  const record = options.record ?? createRedisEventRecorder(keys, resumeWindowMs, { sharded: Boolean(sharded) });
  const intake = createEventIntake({ logger });
  const history =
    resumeWindowMs > 0
      ? createRedisHistory({
          redis: publisher,
          keys,
          windowMs: resumeWindowMs,
          check: (channel, payload) => intake.check(requireChannelContract(channel), channel, payload),
        })
      : undefined;
  /** The channels this process listens on, by Redis channel name. */
  const listening = new Map<string, Subscribed>();
  const catchUp =
    history && catchUpAfterOutages({ subscriber, history, reader: publisher, heard: () => listening.values(), logger });
  /** Channels whose UNSUBSCRIBE failed while Redis was away. */
  const orphaned = new Set<string>();

  // graphql-redis-subscriptions calls these without handling their promise.
  for (const command of sharded ? [] : (['unsubscribe', 'punsubscribe'] as const)) {
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
  if (!sharded) subscriber.on('ready', onReady);

  /** Subscribes the process to `name` once; later listeners join the same entry. */
  const subscribed = (name: string, channel: string, contract: ChannelContract): Subscribed => {
    const existing = listening.get(name);
    if (existing) return existing;
    const entry: Subscribed = {
      channel,
      listeners: new Set(),
      deliver: (payload) => intake.deliver(contract, name, entry.listeners, payload),
      // Resolves only after Redis confirmed SUBSCRIBE, so an unlisten always
      // finds the reference (graphql-redis-subscriptions drops early unsubscribes).
      id: pubsub.subscribe(name, (message: unknown) =>
        catchUp ? catchUp.receive(entry, message) : entry.deliver(unwrap(message).payload),
      ),
    };
    entry.id.then(
      (id) => {
        entry.confirmed = id;
        entry.since = Date.now();
      },
      () => {
        if (listening.get(name) === entry) listening.delete(name);
      },
    );
    listening.set(name, entry);
    return entry;
  };

  return {
    kind: 'redis',
    maxQueuedEvents,
    stats: intake.stats,
    history,
    async publish(channel, payload) {
      const events = [{ channel, payload }];
      const args = record(events, publishScope(events));
      // The epoch's key, declared only to route the script to the slot of the channel's organisation on a cluster.
      await sendWrite(() => runScript(publisher, PUBLISH_EVENTS, [args[2]!], args));
    },
    async listen(channel, listener) {
      const contract = requireChannelContract(channel);
      if (subscriber.status !== 'ready') throw new RedisUnavailableError('Redis subscriber connection is not ready');
      const name = keys.ofChannel(channel) + channel;
      const entry = subscribed(name, channel, contract);
      // A wrapper of its own: the same function may listen twice.
      const own: Listener = (payload) => listener(payload as never);
      // Joined before the SUBSCRIBE is confirmed, so the entry is not released meanwhile by another listener.
      entry.listeners.add(own);
      let id: number;
      try {
        id = await entry.id;
      } catch (error) {
        entry.listeners.delete(own);
        throw error;
      }
      return () => {
        if (!entry.listeners.delete(own) || entry.listeners.size > 0) return;
        if (listening.get(name) === entry) listening.delete(name);
        pubsub.unsubscribe(id);
      };
    },
    async close() {
      subscriber.off('ready', onReady);
      for (const entry of listening.values()) {
        // Their unlisten functions now do nothing.
        entry.listeners.clear();
        if (entry.confirmed !== undefined) pubsub.unsubscribe(entry.confirmed);
        else
          entry.id.then(
            (id) => pubsub.unsubscribe(id),
            () => undefined,
          );
      }
      listening.clear();
      catchUp?.close();
      sharded?.close();
      intake.close();
    },
  };
}

/** One Redis channel this process listens on. */
interface Subscribed extends HeardChannel {
  /** The pubsub subscription's id, once Redis confirmed SUBSCRIBE. */
  id: Promise<number>;
  /** The same id, once known. */
  confirmed?: number;
  listeners: Set<Listener>;
}

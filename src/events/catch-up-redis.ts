import { isFromTheFuture } from '../lib/clock.js';
import { isCluster, type RedisClient } from '../redis.js';
import type { Logger } from '../logger.js';
import type { EventHistory } from './history.js';
import { compareOffsets, parseOffset, tagOffset, type Offset } from './offsets.js';

/** A channel a process hears, as the catch-up sees it. */
export interface HeardChannel {
  /** The channel's name without the Redis prefix (as the history names it). */
  channel: string;
  /** When Redis confirmed its SUBSCRIBE (this process' clock); undefined until then. */
  since?: number;
  /** The offset of the last event it delivered. */
  last?: string;
  /** Hands a checked-or-not payload to the channel's listeners (the bus's intake). */
  deliver(payload: unknown): void;
}

/**
 * How far before the loss of the subscriber connection the catch-up of a
 * channel that delivered nothing yet starts: messages in flight when the
 * connection went, and the clocks of this process and Redis apart.
 */
const LOSS_MARGIN_MS = 2_000;

/**
 * On a Redis Cluster, how long after ioredis says its sharded subscribers
 * are ready (it has sent their SSUBSCRIBEs, without waiting for the
 * answers) the catch-up waits before reading the history.
 */
const SHARD_RESUBSCRIBE_SETTLE_MS = 500;

/**
 * How long a catch-up waits, live messages held, for the connection the
 * history is read on to be ready again (it reconnects on its own schedule,
 * an attempt at most every 2 s, and queues nothing meanwhile) before it
 * reads anyway: failing, it leaves the channels live only.
 */
const READER_READY_WAIT_MS = 5_000;

/**
 * Pub/Sub is at-most-once: what is published while a process' subscriber
 * connection is down (Redis restarted, the connection killed) never reaches
 * it. With a history, nothing is lost for its listeners: once the
 * connection is back and has subscribed again, each channel heard gets the
 * events after the last one it delivered, read from the history, before
 * the live ones that came meanwhile (held, then passed on unless already
 * delivered). Every subscription carries on without a gap or a duplicate,
 * without its client having to reconnect.
 *
 * On a Redis Cluster the same happens per shard: a shard subscriber
 * connection that ends (`-node`), a failover or a slot moved elsewhere
 * (Redis then unsubscribes the slot's channels without closing anything)
 * all end in ioredis subscribing again and emitting `subscribersReady`;
 * every such round catches up, since a moved slot gives no other sign.
 */
export function catchUpAfterOutages(options: {
  subscriber: RedisClient;
  history: EventHistory;
  /**
   * The connection `history` reads on (the commands connection): it lost
   * Redis with the subscriber but may be back later, and without an offline
   * queue a read sent before then fails at once.
   */
  reader: RedisClient;
  /** The channels heard now. */
  heard: () => Iterable<HeardChannel>;
  logger?: Logger;
}) {
  const { subscriber, history, reader, heard, logger } = options;
  let lostAt: number | undefined;
  /** Live messages that arrived during a catch-up, in order. */
  let held: [HeardChannel, unknown][] | undefined;
  let running: Promise<void> = Promise.resolve();

  const pass = (channel: HeardChannel, message: unknown) => {
    const { payload, offset, at } = unwrap(message);
    if (offset !== undefined) {
      tagOffset(payload, offset, at);
      channel.last = offset;
    }
    channel.deliver(payload);
  };

  const catchUp = async (lost: number) => {
    held = [];
    try {
      if (cluster) {
        await new Promise((resolve) => setTimeout(resolve, SHARD_RESUBSCRIBE_SETTLE_MS));
      } else {
        // autoResubscribe sends its SUBSCRIBEs right after 'ready': once this PING is answered they are in force.
        await Promise.resolve();
        await subscriber.ping();
      }
      await whenReady(reader, READER_READY_WAIT_MS);
      let caught = 0;
      await Promise.all(
        [...heard()].map(async (channel) => {
          if (channel.since === undefined) return;
          // A channel that delivered no event yet: its organisation's epoch, so it still catches up.
          const last = parseOffset(channel.last);
          const epoch = last ? undefined : await history.epoch(channel.channel);
          const after =
            last ??
            (epoch === undefined ? undefined : { epoch, ms: Math.max(channel.since, lost - LOSS_MARGIN_MS), seq: 0 });
          if (!after) return;
          const replay = history.read([channel.channel], after);
          // Page by page; a history that lost some of them leaves the channel live only, as before.
          for (let page = await replay.next(); page && page.length > 0; page = await replay.next()) {
            for (const event of page) {
              tagOffset(event.payload, event.text, event.offset);
              channel.last = event.text;
              caught++;
              channel.deliver(event.payload);
            }
          }
        }),
      );
      if (caught > 0) logger?.info({ events: caught }, 'caught up on events published while pub/sub was down');
    } catch (error) {
      logger?.warn({ err: error }, 'could not catch up on events published while pub/sub was down');
    } finally {
      const waiting = held;
      held = undefined;
      for (const [channel, message] of waiting) {
        const { payload, offset, at } = unwrap(message);
        const last = parseOffset(channel.last);
        if (at && last && at.epoch === last.epoch && compareOffsets(at, last) <= 0) continue;
        if (offset !== undefined) {
          tagOffset(payload, offset, at);
          channel.last = offset;
        }
        channel.deliver(payload);
      }
    }
  };

  const cluster = isCluster(subscriber);
  const [lostEvent, readyEvent] = cluster ? ['-node', 'subscribersReady'] : ['close', 'ready'];
  const onClose = () => (lostAt ??= Date.now());
  const onReady = () => {
    // A moved slot is not seen as a loss: 0 reads each channel that delivered nothing from its subscription on.
    const lost = lostAt ?? (cluster ? 0 : undefined);
    if (lost === undefined) return;
    lostAt = undefined;
    running = running.then(() => catchUp(lost));
  };
  subscriber.on(lostEvent, onClose);
  subscriber.on(readyEvent, onReady);

  return {
    /** A live message of `channel`: passed on, or held while a catch-up runs. */
    receive(channel: HeardChannel, message: unknown) {
      if (held) held.push([channel, message]);
      else pass(channel, message);
    },
    close() {
      subscriber.off(lostEvent, onClose);
      subscriber.off(readyEvent, onReady);
    },
  };
}

/** Resolves once `redis` is ready (at once if it is), or after `timeoutMs` anyway. */
async function whenReady(redis: RedisClient, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return;
  let timer: NodeJS.Timeout | undefined;
  let onReady: (() => void) | undefined;
  try {
    await new Promise<void>((resolve) => {
      onReady = resolve;
      redis.once('ready', onReady);
      // Not what keeps a process that is shutting down alive.
      timer = setTimeout(resolve, timeoutMs).unref();
    });
  } finally {
    clearTimeout(timer);
    if (onReady) redis.off('ready', onReady);
  }
}

/**
 * The payload of a message and its offset, when it came as an
 * `{offset, payload}` envelope (exactly those two keys; an offset that is
 * not well-formed, or dated ahead of every clock, is dropped); anything else is the payload itself, checked
 * as such by the intake. A bus without history (resume off) hands on the
 * payload alone, so its subscribers see no offsets whoever published.
 */
export function unwrap(message: unknown): { payload: unknown; offset?: string; at?: Offset } {
  if (typeof message !== 'object' || message === null) return { payload: message };
  const { offset, payload } = message as { offset?: unknown; payload?: unknown };
  if (typeof offset !== 'string' || payload === undefined || Object.keys(message).length !== 2) {
    return { payload: message };
  }
  const at = parseOffset(offset);
  // An offset ahead of every clock was given by no Redis of the deployment: kept, it would make every
  // genuine event after it look already delivered (a subscription's, a catch-up's), silencing the channel.
  return at && !isFromTheFuture(at.ms) ? { payload, offset, at } : { payload };
}

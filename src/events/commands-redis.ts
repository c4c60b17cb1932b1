import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { RedisClient } from '../redis.js';
import type { Logger } from '../logger.js';
import { closeRedis } from '../redis.js';
import { sendWrite } from '../storage/write-outcome.js';
import type { KeySpace } from '../lib/keys.js';
import {
  COMMAND_QUEUE_MAX_LENGTH,
  commandOrgsKey,
  commandStreamKey,
  type CommandQueue,
  type StopConsuming,
} from './commands.js';
import { createEventIntake } from './intake.js';
import { requireChannelContract } from './topics.js';

/** The consumer group every worker of a deployment joins: each command goes to one of them. */
const GROUP = 'workers';
/** Commands read (or taken over) at once. */
const BATCH = 16;
/** After a failed read (Redis away), how long a consumer waits before trying again. */
const RETRY_MS = 1000;

/** One stream entry as Redis returns it: its id and its fields, name and value alternating. */
type StreamEntry = [id: string, fields: string[]];

/** The field of a wake-up entry on a deployment stream: the organisation whose stream has a new command. */
const WAKE = 'wake';

/**
 * Tells the consumers of `channel` that an organisation's stream has a new
 * command (see {@link createRedisCommandQueue}). Only a hint: a wake-up
 * that is lost (a crash right after the write) delays the command until a
 * consumer's next sweep, never loses it.
 */
export async function wakeCommandConsumers(
  redis: RedisClient,
  keys: KeySpace,
  channel: string,
  orgId: string,
): Promise<void> {
  await redis.xadd(
    commandStreamKey(keys.deployment, channel),
    'MAXLEN',
    '~',
    COMMAND_QUEUE_MAX_LENGTH,
    '*',
    WAKE,
    orgId,
  );
}

/**
 * The shared queue: Redis Streams read by a consumer group. A command
 * channel has a deployment-level stream (written by
 * {@link CommandQueue.send}) and a stream per organisation, in its slot,
 * written by the same script as the change that produces the command (see
 * RECORD_EVENTS in ./record-redis.ts), so a queued command is atomic with
 * its write on a Redis Cluster too. The organisations with a stream are in
 * a deployment-level set (`commandOrgsKey`), added before their first
 * command; after such a write, a wake-up entry naming the organisation is
 * added to the deployment stream.
 *
 * Each consumer blocks on the deployment stream on a connection of its own
 * (`connect`; a blocking read holds its connection); a wake-up makes it
 * read that organisation's stream. Every `blockMs` it sweeps: reads the
 * set again and every organisation's stream (what a lost wake-up left),
 * and takes over the commands another consumer read but did not
 * acknowledge within `claimIdleMs` (it died), on every stream. So a command
 * is handled at least once while workers come and go. A command is
 * acknowledged once handled. A stream keeps the last
 * {@link COMMAND_QUEUE_MAX_LENGTH} commands; a group created on it reads
 * them from the start, so commands recorded before any worker ever ran are
 * handled too.
 */
export function createRedisCommandQueue(options: {
  /** For XADD and group creation (the storage's command connection). */
  redis: RedisClient;
  /** Opens the dedicated connection of one consumer, whose commands may block for `blockMs`. */
  connect: (name: string, blockMs: number) => Promise<RedisClient>;
  keys: KeySpace;
  claimIdleMs: number;
  logger?: Logger;
}): CommandQueue {
  const { redis, connect, keys, claimIdleMs, logger } = options;
  const intake = createEventIntake({ logger });
  const blockMs = Math.min(Math.max(Math.round(claimIdleMs / 2), 50), 5000);
  const consumers = new Set<StopConsuming>();

  const ensureGroup = async (key: string) => {
    try {
      await sendWrite(() => redis.xgroup('CREATE', key, GROUP, '0', 'MKSTREAM'));
    } catch (error) {
      if (!String(error).includes('BUSYGROUP')) throw error;
    }
  };

  return {
    kind: 'redis',
    async send(channel, payload) {
      const key = commandStreamKey(keys.deployment, channel);
      const message = JSON.stringify(payload);
      await sendWrite(() => redis.xadd(key, 'MAXLEN', '~', COMMAND_QUEUE_MAX_LENGTH, '*', 'message', message));
    },
    async consume(channel, handler) {
      const contract = requireChannelContract(channel);
      const key = commandStreamKey(keys.deployment, channel);
      const orgsKey = commandOrgsKey(keys.deployment, channel);
      await ensureGroup(key);
      const connection = await connect(`queue:${channel}`, blockMs);
      const consumer = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
      const log = logger?.child({ channel, consumer });
      /** The organisations' streams this consumer has made sure have the group. */
      const grouped = new Set<string>();
      let stopped = false;
      let blocked = false;
      let pause: { timer: NodeJS.Timeout; resolve: () => void } | undefined;

      const handle = async (stream: string, [id, fields]: StreamEntry) => {
        const wake = fields.indexOf(WAKE);
        if (stream === key && wake >= 0 && wake % 2 === 0) {
          // A wake-up: the named organisation's stream has a command (read it, then the wake-up is done).
          const org = fields[wake + 1];
          if (org !== undefined) await drain(commandStreamKey(keys.org(org), channel));
          await connection.xack(stream, GROUP, id);
          return;
        }
        const raw = fields[fields.indexOf('message') + 1];
        let payload: unknown = raw;
        try {
          if (raw !== undefined) payload = JSON.parse(raw);
        } catch {
          // Checked as the text it is: refused below.
        }
        if (intake.check(contract, stream, payload)) {
          try {
            await handler(payload as never);
          } catch (error) {
            log?.warn({ err: String(error) }, 'a command failed');
          }
        }
        // Handled, failed or malformed: done with it either way.
        await connection.xack(stream, GROUP, id);
      };

      /** Reads an organisation's stream (never blocking) until it has nothing new for this consumer. */
      const drain = async (stream: string) => {
        if (!grouped.has(stream)) {
          await ensureGroup(stream);
          grouped.add(stream);
        }
        for (;;) {
          const reply = (await connection.xreadgroup(
            'GROUP',
            GROUP,
            consumer,
            'COUNT',
            BATCH,
            'STREAMS',
            stream,
            '>',
          )) as [string, StreamEntry[]][] | null;
          const entries = reply?.[0]?.[1] ?? [];
          for (const entry of entries) await handle(stream, entry);
          if (entries.length < BATCH || stopped) return;
        }
      };

      /** Commands read by a consumer that then went silent (it died): taken over. */
      const takeOver = async (stream: string) => {
        let from = '0-0';
        do {
          const [next, entries] = (await connection.xautoclaim(
            stream,
            GROUP,
            consumer,
            claimIdleMs,
            from,
            'COUNT',
            BATCH,
          )) as [string, StreamEntry[]];
          from = next;
          if (entries.length > 0) log?.info({ commands: entries.length }, 'taking over unacknowledged commands');
          for (const entry of entries) if (!stopped) await handle(stream, entry);
        } while (from !== '0-0' && !stopped);
      };

      /** Every stream: unacknowledged commands taken over, and what no wake-up announced read. */
      const sweep = async () => {
        await takeOver(key);
        const orgs = await connection.smembers(orgsKey);
        for (const org of orgs) {
          if (stopped) return;
          const stream = commandStreamKey(keys.org(org), channel);
          await drain(stream);
          await takeOver(stream);
        }
      };

      const loop = async () => {
        let sweptAt = 0;
        while (!stopped) {
          try {
            if (Date.now() - sweptAt >= blockMs) {
              await sweep();
              sweptAt = Date.now();
            }
            if (stopped) break;
            blocked = true;
            const reply = (await untilLost(
              connection,
              connection.xreadgroup('GROUP', GROUP, consumer, 'COUNT', BATCH, 'BLOCK', blockMs, 'STREAMS', key, '>'),
            )) as [string, StreamEntry[]][] | null;
            blocked = false;
            // Once read, a command is handled (and acknowledged) even when a stop comes meanwhile.
            for (const [, entries] of reply ?? []) for (const entry of entries) await handle(key, entry);
          } catch (error) {
            blocked = false;
            if (stopped) break;
            log?.warn({ err: String(error) }, 'reading commands failed; retrying');
            if (String(error).includes('NOGROUP')) {
              grouped.clear();
              await ensureGroup(key).catch(() => undefined);
            }
            sweptAt = 0;
            await new Promise<void>((resolve) => (pause = { timer: setTimeout(resolve, RETRY_MS), resolve }));
            pause = undefined;
          }
        }
      };
      const running = loop();

      const stop: StopConsuming = async () => {
        if (!consumers.delete(stop)) return running;
        stopped = true;
        // A blocked read would hold the stop for up to blockMs: cut it (what it had not read stays in the stream).
        if (blocked) connection.disconnect();
        if (pause) {
          clearTimeout(pause.timer);
          pause.resolve();
        }
        await running;
        await closeRedis(connection);
      };
      consumers.add(stop);
      return stop;
    },
    async close() {
      await Promise.all([...consumers].map((stop) => stop()));
      intake.close();
    },
  };
}

/**
 * `command`, or a rejection as soon as the connection drops: ioredis would
 * hold a blocked read until its command timeout, though its reply can no
 * longer come (what it would have read stays in the stream, or pending for
 * this consumer, to be taken over).
 */
function untilLost<T>(connection: RedisClient, command: Promise<T>): Promise<T> {
  command.catch(() => undefined);
  let onClose: () => void = () => undefined;
  const lost = new Promise<never>((_, reject) => {
    onClose = () => reject(new Error('connection lost during a blocking read'));
    connection.once('close', onClose);
  });
  return Promise.race([command, lost]).finally(() => connection.off('close', onClose));
}

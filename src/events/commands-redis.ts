import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { RedisClient } from '../redis.js';
import type { Logger } from '../logger.js';
import { closeRedis } from '../redis.js';
import { sendWrite } from '../storage/write-outcome.js';
import { COMMAND_QUEUE_MAX_LENGTH, commandStreamKey, type CommandQueue, type StopConsuming } from './commands.js';
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

/**
 * The shared queue: a Redis Stream per command channel (written by the
 * same script as the change that produces the command, see RECORD_EVENTS
 * in src/storage/redis.ts, or by {@link CommandQueue.send}), read by a
 * consumer group. Each consumer blocks on a connection of its own
 * (`connect`; a blocking read holds its connection), acknowledges a
 * command once handled, and takes over the commands another consumer read
 * but did not acknowledge within `claimIdleMs` (it died), so a command is
 * handled at least once while workers come and go. A stream keeps the last
 * {@link COMMAND_QUEUE_MAX_LENGTH} commands; a group created on it reads
 * them from the start, so commands recorded before any worker ever ran are
 * handled too.
 */
export function createRedisCommandQueue(options: {
  /** For XADD and group creation (the storage's command connection). */
  redis: RedisClient;
  /** Opens the dedicated connection of one consumer, whose commands may block for `blockMs`. */
  connect: (name: string, blockMs: number) => Promise<RedisClient>;
  prefix: string;
  claimIdleMs: number;
  logger?: Logger;
}): CommandQueue {
  const { redis, connect, prefix, claimIdleMs, logger } = options;
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
      const key = commandStreamKey(prefix, channel);
      const message = JSON.stringify(payload);
      await sendWrite(() => redis.xadd(key, 'MAXLEN', '~', COMMAND_QUEUE_MAX_LENGTH, '*', 'message', message));
    },
    async consume(channel, handler) {
      const contract = requireChannelContract(channel);
      const key = commandStreamKey(prefix, channel);
      await ensureGroup(key);
      const connection = await connect(`queue:${channel}`, blockMs);
      const consumer = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
      const log = logger?.child({ channel, consumer });
      let stopped = false;
      let blocked = false;
      let pause: { timer: NodeJS.Timeout; resolve: () => void } | undefined;

      const handle = async ([id, fields]: StreamEntry) => {
        const raw = fields[fields.indexOf('message') + 1];
        let payload: unknown = raw;
        try {
          if (raw !== undefined) payload = JSON.parse(raw);
        } catch {
          // Checked as the text it is: refused below.
        }
        if (intake.check(contract, key, payload)) {
          try {
            await handler(payload as never);
          } catch (error) {
            log?.warn({ err: String(error) }, 'a command failed');
          }
        }
        // Handled, failed or malformed: done with it either way.
        await connection.xack(key, GROUP, id);
      };

      const loop = async () => {
        let claimFrom = '0-0';
        let claimedAt = 0;
        while (!stopped) {
          try {
            if (Date.now() - claimedAt >= blockMs) {
              // Commands read by a consumer that then went silent (it died): taken over.
              const [next, entries] = (await connection.xautoclaim(
                key,
                GROUP,
                consumer,
                claimIdleMs,
                claimFrom,
                'COUNT',
                BATCH,
              )) as [string, StreamEntry[]];
              claimFrom = next;
              if (next === '0-0') claimedAt = Date.now();
              if (entries.length > 0) log?.info({ commands: entries.length }, 'taking over unacknowledged commands');
              for (const entry of entries) if (!stopped) await handle(entry);
            }
            if (stopped) break;
            blocked = true;
            const reply = (await untilLost(
              connection,
              connection.xreadgroup('GROUP', GROUP, consumer, 'COUNT', BATCH, 'BLOCK', blockMs, 'STREAMS', key, '>'),
            )) as [string, StreamEntry[]][] | null;
            blocked = false;
            // Once read, a command is handled (and acknowledged) even when a stop comes meanwhile.
            for (const [, entries] of reply ?? []) for (const entry of entries) await handle(entry);
          } catch (error) {
            blocked = false;
            if (stopped) break;
            log?.warn({ err: String(error) }, 'reading commands failed; retrying');
            if (String(error).includes('NOGROUP')) await ensureGroup(key).catch(() => undefined);
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

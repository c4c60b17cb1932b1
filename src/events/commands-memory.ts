import type { Logger } from '../logger.js';
import type { CommandHandler, CommandQueue } from './commands.js';
import { createEventIntake } from './intake.js';
import { requireChannelContract } from './topics.js';

/**
 * The embedded engine's queue: commands wait in this process until a
 * consumer of their channel runs (as the Redis queue keeps them until a
 * worker reads them), then go to one consumer each, in order. Payloads are
 * copied and checked as on Redis, so both engines behave alike.
 */
export function createMemoryCommandQueue(options: { logger?: Logger } = {}): CommandQueue {
  const { logger } = options;
  const intake = createEventIntake({ logger });
  const channels = new Map<string, MemoryChannel>();
  const channelOf = (name: string) => {
    let entry = channels.get(name);
    if (!entry) channels.set(name, (entry = { waiting: [], consumers: [], draining: false, handling: new Map() }));
    return entry;
  };

  /** Hands the waiting commands to the channel's consumers, one at a time, round-robin. */
  const drain = async (name: string, entry: MemoryChannel) => {
    if (entry.draining) return;
    entry.draining = true;
    const contract = requireChannelContract(name);
    try {
      while (entry.waiting.length > 0 && entry.consumers.length > 0) {
        const consumer = entry.consumers.shift()!;
        entry.consumers.push(consumer);
        const payload = entry.waiting.shift();
        if (!intake.check(contract, name, payload)) continue;
        const handled = (async () => consumer(payload))().catch((error: unknown) => {
          logger?.warn({ channel: name, err: String(error) }, 'a command failed');
        });
        entry.handling.set(consumer, handled);
        await handled;
        entry.handling.delete(consumer);
      }
    } finally {
      entry.draining = false;
    }
  };

  return {
    kind: 'memory',
    async send(channel, payload) {
      const entry = channelOf(channel);
      entry.waiting.push(JSON.parse(JSON.stringify(payload)) as unknown);
      // Delivered asynchronously, as from Redis: never inside the sender's step.
      queueMicrotask(() => void drain(channel, entry));
    },
    async consume(channel, handler) {
      requireChannelContract(channel);
      const entry = channelOf(channel);
      const own: CommandHandler<unknown> = (payload) => handler(payload as never);
      entry.consumers.push(own);
      queueMicrotask(() => void drain(channel, entry));
      return async () => {
        const at = entry.consumers.indexOf(own);
        if (at >= 0) entry.consumers.splice(at, 1);
        await entry.handling.get(own);
      };
    },
    async close() {
      for (const entry of channels.values()) entry.consumers.length = 0;
      intake.close();
    },
  };
}

interface MemoryChannel {
  /** Commands no consumer has taken yet, oldest first. */
  waiting: unknown[];
  consumers: CommandHandler<unknown>[];
  /** Whether a drain is handing commands out (one at a time, so they go in order). */
  draining: boolean;
  /** The command each consumer is handling, for a stop to wait for. */
  handling: Map<CommandHandler<unknown>, Promise<void>>;
}

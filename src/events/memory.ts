import type { Logger } from '../logger.js';
import type { EventBus } from './bus.js';
import { createMemoryHistory } from './history-memory.js';
import { createEventIntake, type Listener } from './intake.js';
import { tagOffset } from './offsets.js';
import { requireChannelContract, type ChannelContract } from './topics.js';

/**
 * The embedded engine: events reach listeners of this process only.
 *
 * Its payloads come from this process, yet they are checked against their
 * channel's schema like those from Redis (once per publish), and listeners
 * are isolated the same way: both engines behave alike, so a test on the
 * embedded engine shows what a cluster does, and a publisher's bug is
 * caught on the first run rather than in production.
 *
 * With a resume window (`resumeWindowMs` > 0), every organisation event is
 * also kept in process for that long, with its offset (see
 * ./history-memory.ts), heard or not.
 */
export function createMemoryEventBus(
  options: { maxQueuedEvents?: number; logger?: Logger; resumeWindowMs?: number } = {},
): EventBus {
  const { resumeWindowMs = 0 } = options;
  const intake = createEventIntake({ logger: options.logger });
  const channels = new Map<string, { contract: ChannelContract; listeners: Set<Listener> }>();
  const kept =
    resumeWindowMs > 0
      ? createMemoryHistory({
          windowMs: resumeWindowMs,
          check: (channel, payload) => intake.check(requireChannelContract(channel), channel, payload),
        })
      : undefined;
  return {
    kind: 'memory',
    maxQueuedEvents: options.maxQueuedEvents,
    stats: intake.stats,
    history: kept?.history,
    async publish(channel, payload) {
      const entry = channels.get(channel);
      if (!kept && !entry?.listeners.size) return;
      const json = JSON.stringify(payload);
      const offset = kept?.record(channel, json);
      if (!entry?.listeners.size) return;
      // Same semantics as Redis: one serialised copy per process, delivered asynchronously.
      const copy = JSON.parse(json) as unknown;
      if (offset !== undefined) tagOffset(copy, offset);
      // Those listening now: one that starts before the delivery does not hear an earlier event.
      const listeners = [...entry.listeners];
      queueMicrotask(() => intake.deliver(entry.contract, channel, listeners, copy));
    },
    async listen(channel, listener) {
      const contract = requireChannelContract(channel);
      let entry = channels.get(channel);
      if (!entry) channels.set(channel, (entry = { contract, listeners: new Set() }));
      const { listeners } = entry;
      // A wrapper of its own: the same function may listen twice.
      const own: Listener = (payload) => listener(payload as never);
      listeners.add(own);
      return () => {
        listeners.delete(own);
        if (listeners.size === 0 && channels.get(channel) === entry) channels.delete(channel);
      };
    },
    async close() {
      channels.clear();
      kept?.close();
      intake.close();
    },
  };
}

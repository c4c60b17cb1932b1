import type { EventBus } from './bus.js';

/** The embedded engine: events reach listeners of this process only. */
export function createMemoryEventBus(options: { maxQueuedEvents?: number } = {}): EventBus {
  const listeners = new Map<string, Set<(payload: unknown) => void>>();
  return {
    kind: 'memory',
    maxQueuedEvents: options.maxQueuedEvents,
    async publish(channel, payload) {
      const current = listeners.get(channel);
      if (!current?.size) return;
      // Same semantics as Redis: one serialised copy per process, delivered asynchronously.
      const copy = JSON.parse(JSON.stringify(payload)) as unknown;
      queueMicrotask(() => {
        for (const listener of [...current]) listener(copy);
      });
    },
    async listen(channel, listener) {
      let set = listeners.get(channel);
      if (!set) listeners.set(channel, (set = new Set()));
      const entry = listener as (payload: unknown) => void;
      set.add(entry);
      return () => {
        set.delete(entry);
        if (set.size === 0 && listeners.get(channel) === set) listeners.delete(channel);
      };
    },
    async close() {
      listeners.clear();
    },
  };
}

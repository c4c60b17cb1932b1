import { collectDefaultMetrics, Registry } from 'prom-client';

let shared: Registry | undefined;

/**
 * prom-client's default metrics (CPU, memory, heap, event-loop lag, GC,
 * handles) on a registry of their own, made once per process and served by
 * every metrics listener in it. They describe the process, not one server;
 * and what collects them (a GC observer, an event-loop delay monitor)
 * cannot be stopped, so it is started once, never once per server. Not the
 * global default registry: nothing else in the process can add to it.
 */
export function processRegistry(): Registry {
  if (!shared) {
    shared = new Registry();
    collectDefaultMetrics({ register: shared });
  }
  return shared;
}

import { readdir } from 'node:fs/promises';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';

let shared: Registry | undefined;

/**
 * prom-client default metrics whose collection walks every open handle or
 * file descriptor on the event loop (`process._getActiveHandles()`, a
 * synchronous `readdir` of /proc/self/fd): at 20,000 sockets each scrape
 * blocked every client's deliveries for tens of milliseconds. Dropped;
 * `process_open_fds` comes back below, the directory listed by the thread pool.
 */
const PER_HANDLE_METRICS = [
  'process_open_fds',
  'nodejs_active_handles',
  'nodejs_active_handles_total',
  'nodejs_active_resources',
  'nodejs_active_resources_total',
];

/**
 * prom-client's default metrics (CPU, memory, heap, event-loop lag, GC,
 * file descriptors) on a registry of their own, made once per process and
 * served by every metrics listener in it. They describe the process, not
 * one server; and what collects them (a GC observer, an event-loop delay
 * monitor) cannot be stopped, so it is started once, never once per
 * server. Not the global default registry: nothing else in the process can
 * add to it. Without the metrics whose scrape costs a walk over every
 * socket on the event loop ({@link PER_HANDLE_METRICS}).
 */
export function processRegistry(): Registry {
  if (!shared) {
    shared = new Registry();
    collectDefaultMetrics({ register: shared });
    for (const name of PER_HANDLE_METRICS) shared.removeSingleMetric(name);
    if (process.platform === 'linux') registerOpenFds(shared);
  }
  return shared;
}

/** `process_open_fds` as prom-client names it, the directory listed by the thread pool: the event loop only gets the names. */
function registerOpenFds(registry: Registry) {
  new Gauge({
    name: 'process_open_fds',
    help: 'Number of open file descriptors.',
    registers: [registry],
    async collect() {
      try {
        // Minus the descriptor the listing itself held open.
        this.set((await readdir('/proc/self/fd')).length - 1);
      } catch {
        // /proc unreadable: the last count stands.
      }
    },
  });
}

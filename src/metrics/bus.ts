import type { Registry } from 'prom-client';
import type { EventBusStats } from '../events/intake.js';
import { exportCounter } from './exported.js';
import { METRIC_PREFIX } from './names.js';

/** Events entering the process from its bus (Redis pub/sub, or the embedded engine), from the bus's own stats. */
export function registerBusMetrics(registry: Registry, stats: Readonly<EventBusStats>): void {
  exportCounter(registry, {
    name: `${METRIC_PREFIX}bus_events_received_total`,
    help: 'Events received from the event bus (Redis pub/sub), one per message and channel however many subscribers listen.',
    read: () => stats.received,
  });
  exportCounter(registry, {
    name: `${METRIC_PREFIX}bus_events_malformed_total`,
    help: 'Events received from the bus and dropped because they were not a valid payload of their channel (not JSON, wrong shape).',
    read: () => stats.malformedDropped,
  });
  exportCounter(registry, {
    name: `${METRIC_PREFIX}bus_listener_errors_total`,
    help: 'Deliveries dropped because one listener (a subscriber filter) threw; the other listeners still got the event.',
    read: () => stats.listenerErrors,
  });
}

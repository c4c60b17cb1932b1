import type { Registry } from 'prom-client';
import type { LiveCounts } from '../server/metrics.js';
import { exportCounter, exportGauge, samplesOf } from './exported.js';
import { METRIC_PREFIX } from './names.js';

/**
 * The server's transport and pipeline metrics, read from its
 * {@link LiveCounts} (kept where things happen: src/server).
 */
export function registerServerMetrics(registry: Registry, counts: LiveCounts): void {
  exportGauge(registry, {
    name: `${METRIC_PREFIX}connections`,
    help: 'Open client connections by transport: WebSockets (authenticated or not) and SSE streams.',
    labelNames: ['transport'],
    read: () => [
      [{ transport: 'websocket' }, counts.websockets],
      [{ transport: 'sse' }, counts.sseStreams],
    ],
  });
  exportGauge(registry, {
    name: `${METRIC_PREFIX}subscriptions`,
    help: 'Running subscription operations by root field, over WebSocket and SSE.',
    labelNames: ['field'],
    read: () => samplesOf('field', counts.subscriptionsByField),
  });
  exportCounter(registry, {
    name: `${METRIC_PREFIX}events_delivered_total`,
    help: "Subscription events sent to clients, one per subscriber and event, by transport (the status page's own feed excepted).",
    labelNames: ['transport'],
    read: () => [
      [{ transport: 'websocket' }, counts.tallies.totals.delivered.websocket],
      [{ transport: 'sse' }, counts.tallies.totals.delivered.sse],
    ],
  });
  exportCounter(registry, {
    name: `${METRIC_PREFIX}fanout_executions_total`,
    help:
      'GraphQL executions the WebSocket fan-out ran for the events it delivered: subscribers of one document and ' +
      'variables share one execution per event, so events_delivered_total{transport="websocket"} divided by this is the sharing ratio.',
    read: () => counts.fanout.executions,
  });
  exportCounter(registry, {
    name: `${METRIC_PREFIX}slow_consumers_total`,
    help: 'Connections cut off because their client did not read its events (WebSocket close 4413, SSE stream dropped).',
    labelNames: ['transport'],
    read: () => [
      [{ transport: 'websocket' }, counts.tallies.totals.slowConsumers.websocket],
      [{ transport: 'sse' }, counts.tallies.totals.slowConsumers.sse],
    ],
  });
  exportCounter(registry, {
    name: `${METRIC_PREFIX}rate_limited_total`,
    help:
      'Operations refused with RATE_LIMITED, by limit: rate (RATE_LIMIT_PER_SECOND and RATE_LIMIT_BURST), ' +
      'subscriptions_per_connection (MAX_SUBSCRIPTIONS_PER_CONNECTION), connections_per_user (MAX_CONNECTIONS_PER_USER, SSE).',
    labelNames: ['limit'],
    read: () => [
      [{ limit: 'rate' }, counts.rateLimited.rate],
      [{ limit: 'subscriptions_per_connection' }, counts.rateLimited.subscriptionsPerConnection],
      [{ limit: 'connections_per_user' }, counts.rateLimited.connectionsPerUser],
    ],
  });
  exportCounter(registry, {
    name: `${METRIC_PREFIX}websocket_refused_total`,
    help:
      'WebSockets the server closed before accepting their connection_init, by close code (4403 bad token, ' +
      '4029 too many connections, 4408 no connection_init in time, …), or refused at the upgrade, by HTTP status (403, 503).',
    labelNames: ['code'],
    read: () => samplesOf('code', counts.refused),
  });
}

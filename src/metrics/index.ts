import { Registry } from 'prom-client';
import type { MetricsConfig } from '../config.js';
import type { EventBusStats } from '../events/intake.js';
import type { Logger } from '../logger.js';
import type { LiveCounts } from '../server/metrics.js';
import type { CampaignCounts } from '../worker/counts.js';
import { registerBusMetrics } from './bus.js';
import { registerCampaignMetrics } from './campaigns.js';
import { startMetricsListener } from './listener.js';
import { processRegistry } from './process.js';
import { startRedisProbe } from './redis-probe.js';
import { registerServerMetrics } from './server.js';

/** What a process exposes: each source is optional (a worker has no transports, a server on the embedded engine no Redis). */
export interface MetricSources {
  /** A server's transport and pipeline counts. */
  counts?: LiveCounts;
  /** The event bus's intake stats. */
  bus?: Readonly<EventBusStats>;
  /** Campaign counts of the worker running in this process. */
  campaigns?: CampaignCounts;
  /** A round trip to Redis (a PING), for the latency probe. */
  redisPing?: () => Promise<unknown>;
}

/** A process' metrics, served on their own listener. */
export interface RunningMetrics {
  /** `http://host:port/metrics`, or undefined when off (`METRICS_PORT=0`) or the port could not be had. */
  url: string | undefined;
  /** Stops the listener and the Redis probe. Idempotent. */
  close(): Promise<void>;
}

/**
 * Prometheus metrics for a server or a worker (README: Operations →
 * Metrics): a registry of this process object's own (two servers in one
 * process never collide), the process-wide default metrics beside it, and
 * the listener on `METRICS_HOST:METRICS_PORT`. Nothing runs when metrics are off.
 */
export async function startMetrics(options: {
  config: MetricsConfig;
  sources: MetricSources;
  logger: Logger;
}): Promise<RunningMetrics> {
  const { config, sources, logger } = options;
  if (config.port === 0) return { url: undefined, close: async () => {} };
  const registry = new Registry();
  if (sources.counts) registerServerMetrics(registry, sources.counts);
  if (sources.bus) registerBusMetrics(registry, sources.bus);
  if (sources.campaigns) registerCampaignMetrics(registry, sources.campaigns);
  const stopProbe = sources.redisPing ? startRedisProbe(registry, sources.redisPing) : () => {};
  const listener = await startMetricsListener({ config, registries: [registry, processRegistry()], logger });
  if (!listener.url) stopProbe();
  return {
    url: listener.url,
    close: async () => {
      stopProbe();
      await listener.close();
    },
  };
}

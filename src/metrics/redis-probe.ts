import { Counter, Histogram, type Registry } from 'prom-client';
import { METRIC_PREFIX } from './names.js';

/** How often the probe pings by default. */
const DEFAULT_INTERVAL_MS = 10_000;

/**
 * Redis round-trip latency, measured by a PING on the process' command
 * connection at start and every `intervalMs`. ioredis has no hook around
 * the commands it sends, and timing every command would cost the hot path:
 * a PING waits behind whatever Redis is busy with and crosses the same
 * network, so it stands for what any command waits, at one round trip per
 * interval. Stop it with the returned function.
 */
export function startRedisProbe(
  registry: Registry,
  ping: () => Promise<unknown>,
  { intervalMs = DEFAULT_INTERVAL_MS }: { intervalMs?: number } = {},
): () => void {
  const latency = new Histogram({
    name: `${METRIC_PREFIX}redis_ping_seconds`,
    help:
      `Round trip of a PING this process sends on its Redis command connection every ${intervalMs / 1000} s ` +
      '(no per-command timing: a PING waits behind what Redis is busy with, as any command would).',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const failures = new Counter({
    name: `${METRIC_PREFIX}redis_ping_failures_total`,
    help: 'PINGs of the latency probe that failed or timed out (REDIS_COMMAND_TIMEOUT_MS): Redis unreachable or stalled.',
    registers: [registry],
  });
  let inFlight = false;
  const probe = () => {
    // One at a time: a stalled Redis gets one unanswered PING, not one per interval.
    if (inFlight) return;
    inFlight = true;
    const started = performance.now();
    ping()
      .then(
        () => latency.observe((performance.now() - started) / 1000),
        () => failures.inc(),
      )
      .finally(() => (inFlight = false));
  };
  probe();
  const timer = setInterval(probe, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

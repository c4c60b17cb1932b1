import { ConfigError } from '../config.js';
import { exitOnSignals, loadConfigOrExit, runMain } from '../lib/process.js';
import { createLogger } from '../logger.js';
import { startMetrics } from '../metrics/index.js';
import { createRuntime } from '../runtime.js';
import { createCampaignCounts } from './counts.js';
import { startWorker } from './worker.js';

/**
 * `npm run worker`: a campaign worker process (with the simulated gateway).
 * Any number of them may run on one Redis, beside any number of servers;
 * it refuses to start without `REDIS_URL` (or `REDIS_CLUSTER_NODES`), since a worker that shares
 * nothing with the servers could never see their campaigns.
 */
async function main() {
  const config = loadConfigOrExit((loaded) => {
    if (!loaded.redisUrl && !loaded.redisClusterNodes) {
      throw new ConfigError(
        'REDIS_URL (or REDIS_CLUSTER_NODES) must be set: workers share campaigns with the servers through Redis (without Redis, `npm start` runs a worker inside the server)',
      );
    }
  });
  const logger = createLogger(config.logLevel);
  const runtime = await createRuntime(config, logger);
  // Listening before the worker says it started: METRICS_PORT, as a server's.
  const counts = createCampaignCounts();
  const metrics = await startMetrics({
    config: config.metrics,
    sources: { bus: runtime.bus.stats, campaigns: counts, redisPing: runtime.redisPing },
    logger,
  });
  const worker = await startWorker({ config, ...runtime, logger, counts });

  exitOnSignals(logger, config.shutdownTimeoutMs, async () => {
    await worker.stop();
    await metrics.close();
    await runtime.close();
  });
}

runMain(main);

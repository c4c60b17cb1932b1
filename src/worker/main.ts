import { ConfigError, loadConfig, type Config } from '../config.js';
import { createLogger } from '../logger.js';
import { createRuntime } from '../runtime.js';
import { startWorker } from './worker.js';

/**
 * `npm run worker`: a campaign worker process (with the simulated gateway).
 * Any number of them may run on one Redis, beside any number of servers;
 * it refuses to start without `REDIS_URL`, since a worker that shares
 * nothing with the servers could never see their campaigns.
 */
async function main() {
  let config: Config;
  try {
    config = loadConfig();
    if (!config.redisUrl) {
      throw new ConfigError(
        'REDIS_URL must be set: workers share campaigns with the servers through Redis (without Redis, `npm start` runs a worker inside the server)',
      );
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`Configuration error: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  const runtime = await createRuntime(config, logger);
  const worker = await startWorker({ config, ...runtime, logger });

  let signals = 0;
  const stop = (signal: NodeJS.Signals) => {
    if (++signals > 1) process.exit(1);
    logger.info({ signal }, 'signal received');
    const deadline = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs + 2_000);
    deadline.unref();
    worker
      .stop()
      .then(() => runtime.close())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`Failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

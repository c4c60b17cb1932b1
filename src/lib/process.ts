import { ConfigError, loadConfig, type Config } from '../config.js';
import type { Logger } from '../logger.js';

/**
 * Reads the configuration for a process entry point; on a bad value prints
 * the one-line message and exits 1. `check` adds the entry point's own rules.
 */
export function loadConfigOrExit(check: (config: Config) => void = () => {}): Config {
  try {
    const config = loadConfig();
    check(config);
    return config;
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`Configuration error: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

/**
 * Graceful shutdown on SIGTERM/SIGINT: runs `close` and exits 0, or 1 when
 * it fails or outlasts `timeoutMs` (plus 2 s). A second signal exits at once.
 */
export function exitOnSignals(logger: Logger, timeoutMs: number, close: () => Promise<unknown>): void {
  let signals = 0;
  const stop = (signal: NodeJS.Signals) => {
    if (++signals > 1) process.exit(1);
    logger.info({ signal }, 'signal received');
    const deadline = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, timeoutMs + 2_000);
    deadline.unref();
    close().then(
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

/** Runs an entry point; a failure to start is one line on stderr and exit 1. */
export function runMain(main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    process.stderr.write(`Failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}

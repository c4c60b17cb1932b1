import { signDevelopmentToken } from './auth/jwt.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger } from './logger.js';
import { startServer } from './server/app.js';

/** The development identities printed at start-up when no key is configured. */
const DEVELOPMENT_USERS = [
  { sub: 'agent-1', org: 'org-demo', roles: ['agent'], name: 'Ada Agent' },
  { sub: 'admin-1', org: 'org-demo', roles: ['admin'], name: 'Alan Admin' },
  { sub: 'service-1', org: 'org-demo', roles: ['service'], name: 'Gateway Service' },
] as const;

async function main() {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`Configuration error: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  const server = await startServer(config, { logger });
  logger.info({ url: `${server.url}/graphql`, redis: Boolean(config.redisUrl) }, 'server listening');

  if (config.jwt.key.kind === 'ephemeral') {
    const lines = [
      '',
      `GraphiQL: ${server.url}/graphql`,
      'No JWT key is configured, so this process signs development tokens with a random secret',
      '(valid until it stops). Paste one into GraphiQL\'s Headers tab as {"Authorization": "Bearer <token>"}:',
    ];
    for (const user of DEVELOPMENT_USERS) {
      lines.push(`  ${user.roles[0].padEnd(7)} ${await signDevelopmentToken(config.jwt, user)}`);
    }
    process.stdout.write(`${lines.join('\n')}\n\n`);
  }

  let signals = 0;
  const stop = (signal: NodeJS.Signals) => {
    if (++signals > 1) process.exit(1);
    logger.info({ signal }, 'signal received');
    const deadline = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs + 2_000);
    deadline.unref();
    server.close().then(
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

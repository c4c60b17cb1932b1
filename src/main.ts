import { signDevelopmentToken } from './auth/jwt.js';
import { exitOnSignals, loadConfigOrExit, runMain } from './lib/process.js';
import { createLogger } from './logger.js';
import { startServer } from './server/app.js';

/** The development identities printed at start-up when no key is configured. */
const DEVELOPMENT_USERS = [
  { sub: 'agent-1', org: 'org-demo', roles: ['agent'], name: 'Ada Agent' },
  { sub: 'admin-1', org: 'org-demo', roles: ['admin'], name: 'Alan Admin' },
  { sub: 'service-1', org: 'org-demo', roles: ['service'], name: 'Gateway Service' },
] as const;

async function main() {
  const config = loadConfigOrExit();
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

  exitOnSignals(logger, config.shutdownTimeoutMs, () => server.close());
}

runMain(main);

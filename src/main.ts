import { signDevelopmentToken } from './auth/jwt.js';
import { developmentGraphiQL } from './dev/graphiql.js';
import { keepDevState, readDevState, restore } from './dev/state-file.js';
import { exitOnSignals, loadConfigOrExit, runMain } from './lib/process.js';
import { createLogger } from './logger.js';
import { createRuntime } from './runtime.js';
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
  const key = config.jwt.key;

  // Development on the embedded default: data and the signing secret outlive a restart (DEV_STATE_FILE).
  const saved = config.devStateFile ? readDevState(config.devStateFile) : undefined;
  if (key.kind === 'ephemeral' && saved?.secret) key.secret = saved.secret;
  const runtime = await createRuntime(config, logger);
  if (saved) restore(runtime.storage, saved);
  const keeper = config.devStateFile
    ? keepDevState({
        file: config.devStateFile,
        storage: runtime.storage,
        secret: key.kind === 'ephemeral' ? key.secret : undefined,
        onError: (error) => logger.warn({ err: error, file: config.devStateFile }, 'could not save development state'),
      })
    : undefined;

  const tokens =
    key.kind === 'ephemeral'
      ? await Promise.all(DEVELOPMENT_USERS.map((user) => signDevelopmentToken(config.jwt, user)))
      : [];
  const server = await startServer(config, {
    logger,
    runtime,
    // GraphiQL opens ready to use, with the admin token, only with the development key (never in production).
    ...(key.kind === 'ephemeral' ? { graphiql: developmentGraphiQL(tokens[1]!) } : {}),
  });
  logger.info(
    { url: `${server.url}/graphql`, redis: Boolean(config.redisUrl ?? config.redisClusterNodes) },
    'server listening',
  );

  if (key.kind === 'ephemeral') {
    const lines = [
      '',
      `GraphiQL: ${server.url}/graphql (opens with the admin token and a walk-through)`,
      saved?.secret
        ? `No JWT key is configured: development tokens are signed with the secret kept in ${config.devStateFile}.`
        : `No JWT key is configured: development tokens are signed with a random secret${config.devStateFile ? `, kept in ${config.devStateFile}` : ' (valid until this process stops)'}.`,
      `Users of org-demo: ${DEVELOPMENT_USERS.map((user) => `${user.sub} (${user.roles[0]})`).join(', ')}; others: npm run token -- --sub <id> --org <org> --role <role>.`,
      'Paste a token into GraphiQL\'s Headers tab as {"Authorization": "Bearer <token>"}:',
    ];
    DEVELOPMENT_USERS.forEach((user, index) => lines.push(`  ${user.roles[0].padEnd(7)} ${tokens[index]}`));
    if (config.devStateFile)
      lines.push(`Data is kept in ${config.devStateFile} across restarts (DEV_STATE_FILE=off forgets it).`);
    lines.push('Stop with Ctrl+C (or SIGTERM).');
    process.stdout.write(`${lines.join('\n')}\n\n`);
  }

  exitOnSignals(logger, config.shutdownTimeoutMs, async () => {
    await server.close();
    keeper?.stop();
    await runtime.close();
  });
}

runMain(main);

/**
 * `npm run token -- --sub <user> --org <org> --role <role> [--role …] [--name …] [--expires 12h]`:
 * prints a token signed with the configured key (JWT_SECRET, or the
 * development secret that `npm start` keeps in its state file), so any
 * user can be tried in GraphiQL, curl or a front end. Asymmetric keys
 * cannot mint: the server never holds their private half.
 */
import { parseArgs } from 'node:util';
import { signDevelopmentToken } from '../auth/jwt.js';
import { ConfigError } from '../config.js';
import { loadConfigOrExit } from '../lib/process.js';
import { readDevState } from './state-file.js';

const ROLES = ['admin', 'agent', 'service'] as const;
type Role = (typeof ROLES)[number];

async function main() {
  const { values } = parseArgs({
    options: {
      sub: { type: 'string' },
      org: { type: 'string' },
      role: { type: 'string', multiple: true },
      name: { type: 'string' },
      expires: { type: 'string', default: '12h' },
    },
  });
  const roles = values.role ?? [];
  const unknown = roles.find((role) => !(ROLES as readonly string[]).includes(role));
  if (!values.sub || !values.org || roles.length === 0 || unknown) {
    throw new ConfigError(
      `${unknown ? `unknown role "${unknown}"; ` : ''}usage: npm run token -- --sub <user id> --org <organisation> --role <${ROLES.join('|')}> [--role …] [--name <display name>] [--expires 12h]`,
    );
  }
  const config = loadConfigOrExit();
  let jwt = config.jwt;
  if (jwt.key.kind === 'ephemeral') {
    const secret = config.devStateFile ? readDevState(config.devStateFile)?.secret : undefined;
    if (!secret) {
      throw new ConfigError(
        'No key to sign with: set JWT_SECRET, or run `npm start` once so it keeps its development secret in ' +
          `${config.devStateFile ?? '.data/dev-state.json (DEV_STATE_FILE is off)'}`,
      );
    }
    jwt = { ...jwt, key: { kind: 'ephemeral', secret } };
  }
  if (jwt.key.kind !== 'secret' && jwt.key.kind !== 'ephemeral') {
    throw new ConfigError('JWT_PUBLIC_KEY and JWT_JWKS_URL verify tokens only: mint them where the private key lives');
  }
  const token = await signDevelopmentToken(
    jwt,
    { sub: values.sub, org: values.org, roles: roles as Role[], ...(values.name ? { name: values.name } : {}) },
    values.expires,
  );
  process.stdout.write(`${token}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

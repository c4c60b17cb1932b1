import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

const SECRET = 's'.repeat(32);

function configError(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('has defaults that run on a fresh machine', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 4000,
      host: '0.0.0.0',
      redisUrl: undefined,
      logLevel: 'info',
      nodeEnv: 'development',
      corsOrigins: [],
      metrics: { port: 9464, host: '127.0.0.1' },
    });
    expect(config.jwt.key.kind).toBe('ephemeral');
    expect(loadConfig({ METRICS_PORT: '0', METRICS_HOST: '0.0.0.0' }).metrics).toEqual({ port: 0, host: '0.0.0.0' });
    // A cluster is a shared Redis: no worker inside the server by default, as with REDIS_URL.
    expect(loadConfig({ REDIS_CLUSTER_NODES: ' 10.0.0.1:7000, [::1]:7001 ' })).toMatchObject({
      redisUrl: undefined,
      redisClusterNodes: ['10.0.0.1:7000', '[::1]:7001'],
      embeddedWorker: false,
      devStateFile: undefined,
    });
  });

  it('names the variable and the problem in one line', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ PORT: 'abc' }, /^PORT must be a whole number from 0 to 65535 \(got "abc"\)$/],
      [{ PORT: '70000' }, /^PORT must be a whole number from 0 to 65535 \(got "70000"\)$/],
      [{ REDIS_URL: 'localhost:6379' }, /^REDIS_URL must be a URL starting with redis:\/\/ or rediss:\/\//],
      [{ REDIS_CLUSTER_NODES: 'redis://a:6379' }, /^REDIS_CLUSTER_NODES must be comma-separated host:port seed nodes/],
      [
        { REDIS_URL: 'redis://127.0.0.1:6379', REDIS_CLUSTER_NODES: '127.0.0.1:7000' },
        /^REDIS_URL and REDIS_CLUSTER_NODES are exclusive/,
      ],
      [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL /],
      [{ NODE_ENV: 'staging' }, /^NODE_ENV /],
      [{ JWT_SECRET: 'short' }, /^JWT_SECRET must be at least 32 characters/],
      [{ JWT_PUBLIC_KEY: 'not a key' }, /^JWT_PUBLIC_KEY must be an RSA or EC public key/],
      [{ JWT_JWKS_URL: 'ftp://keys' }, /^JWT_JWKS_URL must be a URL/],
      [{ JWT_SECRET: SECRET, JWT_JWKS_URL: 'https://keys.example/jwks' }, /exclusive/],
      [{ CORS_ORIGINS: 'https://ok.example, nonsense' }, /^CORS_ORIGINS has "nonsense"/],
      [{ JWT_MAX_TOKEN_AGE_SECONDS: '0' }, /^JWT_MAX_TOKEN_AGE_SECONDS must be a whole number from 1 to /],
      [{ JWT_MAX_TOKEN_AGE_SECONDS: '1h' }, /^JWT_MAX_TOKEN_AGE_SECONDS must be a whole number/],
      [{ METRICS_PORT: '70000' }, /^METRICS_PORT must be a whole number from 0 to 65535 \(got "70000"\)$/],
      [{ REDIS_ALLOW_EVICTION: 'yes' }, /^REDIS_ALLOW_EVICTION .*"true".*"false".* \(got "yes"\)$/],
    ];
    for (const [env, message] of cases) {
      const text = configError(env);
      expect(text).toMatch(message);
      expect(text).not.toContain('\n');
    }
  });

  it('never echoes a secret in its message', () => {
    expect(configError({ JWT_SECRET: 'hunter2' })).not.toContain('hunter2');
  });

  it('refuses to start in production without a key', () => {
    expect(configError({ NODE_ENV: 'production' })).toMatch(/must be set when NODE_ENV=production/);
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: SECRET }).jwt.key.kind).toBe('secret');
  });

  it('reads lists and trims values', () => {
    const config = loadConfig({ CORS_ORIGINS: ' https://a.example/ ,http://b.example:8080', PORT: ' 8080 ' });
    expect(config.corsOrigins).toEqual(['https://a.example', 'http://b.example:8080']);
    expect(config.port).toBe(8080);
  });
});

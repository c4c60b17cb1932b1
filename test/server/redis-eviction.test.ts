import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { dispose, TEST_JWT_SECRET } from '../support/harness.js';
import { startRedisServer } from '../support/redis-server.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);
const bin = inject('redisServerBin');

const SERVER = 'src/main.ts' as const;
const WORKER = 'src/worker/main.ts' as const;
const READY = { [SERVER]: '"msg":"server listening"', [WORKER]: '"msg":"worker started"' };

/** Runs an entry point as `npm start` / `npm run worker` do, on a clean environment plus `env`. */
function startProcess(entry: typeof SERVER | typeof WORKER, env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      PORT: '0',
      HOST: '127.0.0.1',
      JWT_SECRET: TEST_JWT_SECRET,
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  dispose(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
    return exited;
  });
  /** Resolves once the process says it is serving; rejects if it exits first. */
  const ready = async () => {
    const deadline = Date.now() + 20_000;
    while (!stdout.includes(READY[entry])) {
      if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${stderr}`);
      if (Date.now() > deadline) throw new Error(`not ready within 20 s: ${stdout} ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  /** SIGTERM, and the exit code. */
  const stop = async () => {
    child.kill('SIGTERM');
    return exited;
  };
  /** Log lines at warn level or above that mention eviction. */
  const evictionWarnings = () =>
    stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { level: number; msg: string })
      .filter((entry) => entry.level >= 40 && /maxmemory-policy/.test(entry.msg));
  return { exited, ready, stop, evictionWarnings, output: () => ({ stdout, stderr }) };
}

/** A redis-server of its own with `policy`, and a client to change its settings. */
async function evictingRedis(policy: string) {
  const redis = await startRedisServer(bin!, undefined, ['--maxmemory-policy', policy]);
  dispose(() => redis.stop());
  const admin = new Redis(redis.url);
  dispose(() => admin.quit());
  return { url: redis.url, port: redis.port, admin };
}

const REFUSAL =
  /^Failed to start: Redis maxmemory-policy is (\S+): under memory pressure it deletes keys \(leases, slots, stored records\) and state is lost silently\. Set maxmemory-policy to noeviction \(CONFIG SET maxmemory-policy noeviction, or your provider’s setting\), or set REDIS_ALLOW_EVICTION=true to start anyway\.$/;

// Each case runs real processes (a few seconds each to start under tsx): generous timeouts, processes side by side.
describe.skipIf(!bin)('a Redis that may evict keys', { timeout: 90_000 }, () => {
  it('stops the server and the worker in production with one line naming the policy and the fix', async () => {
    const redis = await evictingRedis('allkeys-lru');
    const runs = [SERVER, WORKER].map((entry) => startProcess(entry, { NODE_ENV: 'production', REDIS_URL: redis.url }));
    for (const run of runs) {
      expect(await run.exited).toBe(1);
      const stderr = run.output().stderr.trim();
      expect(stderr.split('\n')).toHaveLength(1);
      expect(stderr).toMatch(REFUSAL);
      expect(REFUSAL.exec(stderr)![1]).toBe('allkeys-lru');
    }
  });

  it('starts in production with REDIS_ALLOW_EVICTION=true, and in development, with a warning', async () => {
    const redis = await evictingRedis('allkeys-lru');
    const runs = [
      startProcess(SERVER, { REDIS_URL: redis.url, NODE_ENV: 'production', REDIS_ALLOW_EVICTION: 'true' }),
      startProcess(WORKER, { REDIS_URL: redis.url }),
    ];
    for (const run of runs) {
      await run.ready();
      expect(run.evictionWarnings()).toEqual([
        expect.objectContaining({
          level: 40,
          msg: expect.stringMatching(/^Redis maxmemory-policy is allkeys-lru: .* noeviction/),
        }),
      ]);
      expect(await run.stop()).toBe(0);
    }
  });

  it('starts silently in production on noeviction', async () => {
    const redis = await evictingRedis('noeviction');
    const run = startProcess(SERVER, { NODE_ENV: 'production', REDIS_URL: redis.url });
    await run.ready();
    expect(run.evictionWarnings()).toEqual([]);
    expect(run.output().stderr).toBe('');
    expect(await run.stop()).toBe(0);
  });

  it('lets a publisher connect with a warning, whatever NODE_ENV says (the servers are the ones that refuse)', async () => {
    const redis = await evictingRedis('allkeys-lru');
    const script = `
      const { createPublisher } = await import('./src/publisher/index.ts');
      const publisher = await createPublisher({ redisUrl: process.env.REDIS_URL, actor: { id: 'svc', roles: ['service'] } });
      await publisher.close();
      process.stderr.write('closed');`;
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, NODE_ENV: 'production', REDIS_URL: redis.url },
    });
    expect(stderr).toBe('closed');
    const warnings = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { level: number; msg: string });
    expect(warnings).toEqual([
      expect.objectContaining({ level: 40, msg: expect.stringMatching(/^Redis maxmemory-policy is allkeys-lru: /) }),
    ]);
  });

  it('reads the policy from INFO where CONFIG is refused, and warns and starts where neither answers', async () => {
    const redis = await evictingRedis('volatile-lru');
    // As on managed Redis: CONFIG forbidden (and, for the second user, INFO too).
    await redis.admin.acl('SETUSER', 'noconfig', 'on', '>pw', '~*', '&*', '+@all', '-config');
    await redis.admin.acl('SETUSER', 'blind', 'on', '>pw', '~*', '&*', '+@all', '-config', '-info');
    const production = { NODE_ENV: 'production' };
    const noConfig = startProcess(SERVER, { ...production, REDIS_URL: `redis://noconfig:pw@127.0.0.1:${redis.port}` });
    const blind = startProcess(SERVER, { ...production, REDIS_URL: `redis://blind:pw@127.0.0.1:${redis.port}` });

    expect(await noConfig.exited).toBe(1);
    expect(REFUSAL.exec(noConfig.output().stderr.trim())?.[1]).toBe('volatile-lru');
    await blind.ready();
    expect(blind.evictionWarnings()).toEqual([
      expect.objectContaining({
        level: 40,
        msg: expect.stringMatching(/^Redis answered neither CONFIG GET maxmemory-policy nor INFO memory/),
      }),
    ]);
    expect(await blind.stop()).toBe(0);
  });
});

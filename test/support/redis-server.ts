import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { TestProject } from 'vitest/node';
import { startRedisCluster } from './redis-cluster.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The Redis every test in this run uses (each with its own key prefix). */
    redisUrl: string;
    /** Path of redis-server, when tests may start Redis instances of their own (fault tests). */
    redisServerBin: string | null;
    /**
     * Seed `host:port`s of a three-shard Redis Cluster every cluster test of
     * this run shares (each with its own key prefix, so its own slot); null
     * when redis-server is not installed (cluster tests are then skipped).
     */
    redisClusterNodes: string[] | null;
  }
}

/**
 * Starts a private `redis-server` on a free port for this run, and a
 * private three-shard Redis Cluster, when redis-server is installed;
 * otherwise uses REDIS_URL (and REDIS_CLUSTER_NODES, if set); otherwise
 * fails saying how to get one.
 */
export default async function setup(project: TestProject) {
  const bin = findRedisServer();
  if (bin) {
    const [redis, cluster] = await Promise.all([startRedisServer(bin), startRedisCluster(bin)]);
    project.provide('redisUrl', redis.url);
    project.provide('redisServerBin', bin);
    project.provide('redisClusterNodes', cluster.seeds);
    return async () => {
      await Promise.all([redis.stop(), cluster.stop()]);
    };
  }
  const url = process.env.REDIS_URL;
  if (!url) {
    throw new Error(
      'Tests need Redis: install redis-server (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) ' +
        'so the tests can start their own, or set REDIS_URL=redis://host:port to a Redis they may write to.',
    );
  }
  project.provide('redisUrl', url);
  project.provide('redisServerBin', null);
  project.provide('redisClusterNodes', process.env.REDIS_CLUSTER_NODES?.split(',') ?? null);
}

function findRedisServer(): string | null {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  const path = found.stdout.trim();
  return found.status === 0 && path ? path : null;
}

/** A free TCP port on loopback, as the kernel picks it. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A throwaway redis-server: nothing persisted, loopback only, gone on stop(). `args` add settings. */
export async function startRedisServer(bin: string, port?: number, args: string[] = []) {
  const chosen = port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'redis-test-'));
  const child: ChildProcess = spawn(
    bin,
    ['--port', String(chosen), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('redis-server did not start within 5 s')), 5000);
    const onData = (chunk: Buffer) => {
      if (chunk.toString().includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}`));
    });
  });
  child.stdout?.resume();
  child.stderr?.resume();
  return {
    url: `redis://127.0.0.1:${chosen}`,
    port: chosen,
    /** The process, for tests that freeze it (SIGSTOP) to play an unresponsive Redis. */
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Calls per command `redis` has run so far, by name (`INFO commandstats`,
 * which counts the commands its scripts run too): read before and after
 * what is being counted.
 */
export async function commandCalls(redis: Redis): Promise<Map<string, number>> {
  const calls = new Map<string, number>();
  for (const line of (await redis.info('commandstats')).split('\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
    if (match) calls.set(match[1]!, Number(match[2]));
  }
  return calls;
}

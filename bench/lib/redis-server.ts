import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { start, stop, waitForLine } from './children.js';

/** A free TCP port on loopback, as the kernel picks it. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * A private redis-server on a free port when one is installed (nothing
 * persisted, loopback only), else REDIS_URL.
 */
export async function startRedis(): Promise<{ url: string; pid?: number; stop(): Promise<void> }> {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  const bin = found.stdout.trim();
  if (found.status !== 0 || !bin) {
    const url = process.env.REDIS_URL;
    if (!url) throw new Error('bench needs redis-server on PATH (apt-get install redis-server) or REDIS_URL');
    return { url, stop: async () => {} };
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'bench-redis-'));
  // Through keeper.mjs: the server goes when the bench goes, however it goes.
  const keeper = fileURLToPath(new URL('./keeper.mjs', import.meta.url));
  const child = start(
    process.execPath,
    [
      keeper,
      bin,
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      // Fan-out bursts of a slow subscriber must not get the server's Redis client dropped.
      '--client-output-buffer-limit',
      'pubsub 0 0 0',
    ],
    { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] },
  );
  await waitForLine(child, /Ready to accept connections/, 5000, 'redis-server');
  child.stdout?.resume();
  child.stderr?.resume();
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid,
    async stop() {
      await stop(child, 1000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

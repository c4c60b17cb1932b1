import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { health, startTestServer, type TestServer } from '../support/harness.js';

const hasSs = spawnSync('sh', ['-c', 'command -v ss']).status === 0;
const somaxconn = (() => {
  try {
    return Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
  } catch {
    return undefined;
  }
})();

/** The accept queue the kernel gives the server's listening socket (`ss`: Send-Q of a listener). */
function acceptQueue(server: TestServer): number {
  const { port } = server.server;
  const line = execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' })
    .trim()
    .split('\n')[0]!;
  return Number(line.trim().split(/\s+/)[2]);
}

describe('LISTEN_BACKLOG: the accept queue a reconnect storm waits in', () => {
  it.skipIf(!hasSs || somaxconn === undefined)(
    'listens with a backlog of 4096 by default (Node alone: 511), and with LISTEN_BACKLOG when set',
    async () => {
      const byDefault = await startTestServer();
      expect(acceptQueue(byDefault)).toBe(Math.min(4096, somaxconn!));
      const set = await startTestServer({ env: { LISTEN_BACKLOG: '1000' } });
      expect(acceptQueue(set)).toBe(Math.min(1000, somaxconn!));
      // Still a working server.
      expect((await health(set)).status).toBe(200);
    },
  );
});

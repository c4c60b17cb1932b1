import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import {
  ok,
  settle,
  subscribeWs,
  tokenFor,
  TEST_JWT_SECRET,
  uniquePrefix,
  user,
  wsClient,
} from '../support/harness.js';
import {
  build,
  listeningUrl,
  processesWithMarker,
  refusesConnections,
  remoteServer,
  ROOT,
  startProcess,
  waitFor,
} from './support.js';

// Builds with tsc and starts processes: allow for a busy machine.
const SLOW = 180_000;

describe('the compiled build', () => {
  beforeAll(build, SLOW);

  it('emits JavaScript and type declarations for every entry point', () => {
    for (const file of ['main.js', 'worker/main.js', 'publisher/index.js', 'publisher/index.d.ts']) {
      expect(existsSync(join(ROOT, 'dist', file)), file).toBe(true);
    }
  });

  it(
    'npm start serves; SIGTERM to the npm process stops the server, frees the port, leaves no process and exits 0',
    async () => {
      const marker = `RT_TEST_MARKER=${randomUUID()}`;
      const [name, value] = marker.split('=') as [string, string];
      const npm = startProcess('npm', ['start'], {
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
        DEV_STATE_FILE: 'off',
        [name]: value,
      });
      const url = await waitFor(() => listeningUrl(npm.stdout()), 'the server to listen', SLOW);
      const admin = await waitFor(() => /^ {2}admin +(\S+)$/m.exec(npm.stdout())?.[1], 'the admin token');
      const me = await ok<{ me: { id: string } }>(remoteServer(url), '{ me { id } }', {}, admin);
      expect(me.me.id).toBe('admin-1');
      // npm, and below it the server (sh execs node): both carry the marker.
      expect(processesWithMarker(marker).length).toBeGreaterThanOrEqual(2);

      npm.child.kill('SIGTERM');
      expect(await npm.exited).toEqual({ code: 0, signal: null });
      await settle(200);
      expect(processesWithMarker(marker)).toEqual([]);
      expect(await refusesConnections(url)).toBe(true);
      expect(npm.stdout()).toContain('"msg":"shut down"');
    },
    SLOW,
  );

  it(
    'production runs on plain node (no TypeScript loader): server and worker on Redis stream events and stop on SIGTERM',
    async () => {
      const env = {
        NODE_ENV: 'production',
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
        JWT_SECRET: TEST_JWT_SECRET,
        REDIS_URL: inject('redisUrl'),
        REDIS_PREFIX: uniquePrefix(),
      };
      const server = startProcess(process.execPath, ['dist/main.js'], env);
      const worker = startProcess(process.execPath, ['dist/worker/main.js'], env);
      const url = await waitFor(() => listeningUrl(server.stdout()), 'the server to listen');
      await waitFor(() => (worker.stdout().includes('"msg":"worker started"') ? true : undefined), 'the worker');

      // A WebSocket subscription and its event through the compiled fan-out (one graphql-js copy).
      const target = remoteServer(url);
      const token = await tokenFor(user('agent-7', ['agent'], 'org-build'));
      const { createSession } = await ok<{ createSession: { id: string } }>(
        target,
        'mutation { createSession(name: "Built") { id } }',
        {},
        token,
      );
      const events = await subscribeWs(
        target,
        wsClient(target, token),
        'subscription ($id: ID!) { sessionEvents(sessionId: $id) { __typename } }',
        { id: createSession.id },
      );
      await ok(target, 'mutation ($id: ID!) { deleteSession(id: $id) }', { id: createSession.id }, token);
      expect(await events.waitForEvents(1)).toEqual([{ __typename: 'SessionDeleted' }]);

      server.child.kill('SIGTERM');
      worker.child.kill('SIGTERM');
      expect(await server.exited).toEqual({ code: 0, signal: null });
      expect(await worker.exited).toEqual({ code: 0, signal: null });
      expect(worker.stdout()).toContain('"msg":"worker stopped"');
    },
    SLOW,
  );
});

import { get as httpGet } from 'node:http';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'graphql-sse';
import { afterAll, describe, expect, it } from 'vitest';
import { GRAPHIQL_WALKTHROUGH } from '../../src/dev/graphiql.js';
import { gql, ok, remoteServerFromUrl } from './first-hour-support.js';
import { exec, listeningUrl, ROOT, startProcess, waitFor } from './support.js';

/** `npm start`'s server as a developer runs it (development, embedded default), on `stateFile`. */
async function startDevServer(stateFile: string, host = '127.0.0.1') {
  const run = startProcess(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    PORT: '0',
    HOST: host,
    LOG_LEVEL: 'info',
    DEV_STATE_FILE: stateFile,
    GATEWAY_QR_INTERVAL_MS: '200',
    GATEWAY_SCAN_DELAY_MS: '500',
  });
  const url = await waitFor(() => listeningUrl(run.stdout()), 'the server to listen', 60_000);
  const admin = await waitFor(() => /^ {2}admin +(\S+)$/m.exec(run.stdout())?.[1], 'the admin token');
  return { run, url, admin };
}

describe('the first hour', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rt-first-hour-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps development data and the development secret across a restart, written atomically; npm run token signs for it', async () => {
    const file = join(dir, 'state', 'dev-state.json');
    const first = await startDevServer(file);
    const { createSession } = await ok<{ createSession: { id: string } }>(
      remoteServerFromUrl(first.url),
      'mutation { createSession(name: "Kept") { id } }',
      first.admin,
    );
    first.run.child.kill('SIGTERM');
    expect((await first.run.exited).code).toBe(0);
    expect(existsSync(file)).toBe(true);
    expect(readdirSync(join(dir, 'state'))).toEqual(['dev-state.json']); // no temporary file left behind

    const second = await startDevServer(file);
    const target = remoteServerFromUrl(second.url);
    // The token printed by the first run still works, and the session is still there.
    const { session } = await ok<{ session: { name: string } }>(
      target,
      `{ session(id: "${createSession.id}") { name } }`,
      first.admin,
    );
    expect(session.name).toBe('Kept');

    const minted = await exec(
      'npm',
      ['run', '--silent', 'token', '--', '--sub', 'agent-9', '--org', 'org-demo', '--role', 'agent', '--name', 'Nine'],
      ROOT,
      { DEV_STATE_FILE: file, NODE_ENV: 'development', JWT_SECRET: '' },
    );
    const { me } = await ok<{ me: { id: string; name: string; roles: string[] } }>(
      target,
      '{ me { id name roles } }',
      minted.stdout.trim(),
    );
    expect(me).toEqual({ id: 'agent-9', name: 'Nine', roles: ['AGENT'] });

    const bad = await exec(
      'npm',
      ['run', '--silent', 'token', '--', '--sub', 'x', '--org', 'y', '--role', 'boss'],
      ROOT,
      {
        DEV_STATE_FILE: file,
      },
    ).catch((error: { code: number; stderr: string }) => error);
    expect(bad).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('unknown role "boss"; usage: npm run token'),
    });
  }, 120_000);

  it('GraphiQL opens in development with the admin token and a walk-through that works as written', async () => {
    // Listening on every interface, as by default.
    const dev = await startDevServer(join(dir, 'walkthrough.json'), '0.0.0.0');
    const page = async (host: string) =>
      (await fetch(`http://${host}:${new URL(dev.url).port}/graphql`, { headers: { accept: 'text/html' } })).text();
    const html = await page('127.0.0.1');
    expect(html).toContain(JSON.stringify(`Bearer ${dev.admin}`).slice(1, -1));
    expect(html).toContain(JSON.stringify(GRAPHIQL_WALKTHROUGH).slice(1, -1));
    // A page on a name pointed at 127.0.0.1 (DNS rebinding: its own name as Host, no Origin on a GET): no token.
    const rebound = await new Promise<string>((resolve, reject) => {
      const request = httpGet(
        {
          host: '127.0.0.1',
          port: new URL(dev.url).port,
          path: '/graphql',
          headers: { accept: 'text/html', host: `rebind.attacker.example:${new URL(dev.url).port}` },
        },
        (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (body += chunk));
          response.on('end', () => resolve(body));
        },
      );
      request.on('error', reject);
    });
    expect(rebound).toContain(JSON.stringify(GRAPHIQL_WALKTHROUGH).slice(1, -1));
    expect(rebound.includes(dev.admin)).toBe(false);
    // From another address (this machine's own, where it has one), the walk-through but never the token.
    const external = Object.values(networkInterfaces())
      .flat()
      .find((entry) => entry && !entry.internal && entry.family === 'IPv4')?.address;
    if (external) {
      const remote = await page(external);
      expect(remote.includes(JSON.stringify(GRAPHIQL_WALKTHROUGH).slice(1, -1))).toBe(true);
      expect(remote.includes(dev.admin)).toBe(false);
    }

    // The walk-through, one operation at a time as GraphiQL runs them (subscriptions over SSE).
    const base = `http://127.0.0.1:${new URL(dev.url).port}`;
    const target = remoteServerFromUrl(base);
    const run = (operationName: string, variables: Record<string, unknown> = {}) =>
      gql(target, GRAPHIQL_WALKTHROUGH, dev.admin, variables, operationName);
    const created = await run('CreateSession');
    const id = (created.data as { createSession: { id: string } }).createSession.id;
    expect((await run('ConnectSession', { id })).data).toEqual({ connectSession: { status: 'CONNECTING' } });
    const sse = createClient({ url: `${base}/graphql`, headers: { authorization: `Bearer ${dev.admin}` } });
    const seen: string[] = [];
    for await (const result of sse.iterate({
      query: GRAPHIQL_WALKTHROUGH,
      operationName: 'SessionEvents',
      variables: { id },
    })) {
      const event = (result.data as { sessionEvents: { __typename: string; status?: string } }).sessionEvents;
      seen.push(event.status ?? event.__typename);
      if (event.status === 'CONNECTED') break;
    }
    expect(seen).toContain('QrCodeUpdated');
    expect(seen.at(-1)).toBe('CONNECTED');
    sse.dispose();
  }, 120_000);
});

import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startChildServer } from '../support/child-server.js';
import { ok, startTestServer, tokenFor, uniquePrefix, user, type TestServer } from '../support/harness.js';
import { readmeSnippets, snippet, unmarkedClientCode } from './readme.js';
import { ROOT, startProcess, waitFor } from './support.js';

/**
 * The README's client snippets, copied as a user copies them, run against a
 * live server that is restarted under them: each must print the events of a
 * session before and after the restart.
 */
describe('README client snippets', () => {
  // Snippets import their packages as an app does: from a node_modules beside them, this repository's
  // (every one of its packages) plus `@realtime-graphql/publisher`, whose `client` entry is the source it is
  // built from (test/ship/publisher-package.test.ts checks the built package).
  const dir = mkdtempSync(join(tmpdir(), 'rt-snippets-'));
  mkdirSync(join(dir, 'node_modules'));
  for (const entry of readdirSync(join(ROOT, 'node_modules'))) {
    symlinkSync(join(ROOT, 'node_modules', entry), join(dir, 'node_modules', entry));
  }
  const publisher = join(dir, 'node_modules/@realtime-graphql/publisher');
  mkdirSync(publisher, { recursive: true });
  writeFileSync(
    join(publisher, 'package.json'),
    JSON.stringify({ name: '@realtime-graphql/publisher', type: 'module', exports: { './client': './client.ts' } }),
  );
  writeFileSync(join(publisher, 'client.ts'), `export * from '${join(ROOT, 'src/client/index.ts')}';\n`);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('marks every client and publisher code block of the README as a snippet that a test runs', () => {
    expect(readmeSnippets().map((s) => s.name)).toEqual([
      'apollo-client',
      'urql',
      'graphql-sse',
      'client-codegen',
      'publisher',
    ]);
    expect(unmarkedClientCode()).toEqual([]);
  });

  const health = async (server: TestServer) =>
    (await (await fetch(`${server.url}/health`)).json()) as { subscriptions: number };

  for (const name of ['apollo-client', 'urql', 'graphql-sse']) {
    it(`${name}: streams a session's events, and again after the server restarts`, async () => {
      const prefix = uniquePrefix();
      let server = await startTestServer({ backend: 'redis', prefix });
      const port = new URL(server.url).port;
      const { owner, sessionId, report } = await snippetSession(() => server);

      const file = join(dir, `${name}.ts`);
      writeFileSync(file, snippet(name).code.replaceAll('http://localhost:4000', server.url));
      const client = startProcess(process.execPath, ['--import', 'tsx', file], {
        TOKEN: owner,
        SESSION_ID: sessionId,
      });
      const printed = (qrCode: string) => (client.stdout().includes(`"qrCode":"${qrCode}"`) ? true : undefined);

      await waitUntil(async () => (await health(server)).subscriptions >= 1, 'the subscription', client);
      await report('qr-before');
      await waitFor(() => printed('qr-before'), `${name} to print the first event: ${client.stderr()}`);

      await server.server.close();
      server = await startTestServer({ backend: 'redis', prefix, env: { PORT: port } });
      await waitUntil(async () => (await health(server)).subscriptions >= 1, 'the resubscription', client);
      await report('qr-after');
      await waitFor(() => printed('qr-after'), `${name} to print the event after the restart: ${client.stderr()}`);
      expect(client.stderr()).not.toMatch(/TypeError|ReferenceError|is not defined/);
    }, 60_000);
  }

  for (const name of ['apollo-client', 'urql']) {
    it(`${name} (withResume): prints every event once and in order across its server killed while events are published`, async () => {
      // Two instances on one Redis: the client's is killed (SIGKILL) and restarted on its port; events keep
      // being published through the other meanwhile.
      const prefix = uniquePrefix();
      const other = await startTestServer({ backend: 'redis', prefix });
      const redisUrl = other.config.redisUrl!;
      let server = await startChildServer({ redisUrl, prefix });
      const port = new URL(server.url).port;
      const { owner, sessionId, report } = await snippetSession(() => other);

      const file = join(dir, `${name}-resume.ts`);
      writeFileSync(file, snippet(name).code.replaceAll('http://localhost:4000', server.url));
      const client = startProcess(process.execPath, ['--import', 'tsx', file], {
        TOKEN: owner,
        SESSION_ID: sessionId,
      });
      const printed = () => [...client.stdout().matchAll(/"qrCode":"([^"]+)"/g)].map((match) => match[1]);
      const until = (qrCode: string) => () => (printed().includes(qrCode) ? true : undefined);

      await waitUntil(async () => (await health(server)).subscriptions >= 1, 'the subscription', client);
      await report('qr-1');
      await report('qr-2');
      await waitFor(until('qr-2'), `${name} to print the first events: ${client.stderr()}`);

      await server.kill();
      for (const qrCode of ['qr-3', 'qr-4', 'qr-5']) await report(qrCode);
      server = await startChildServer({ redisUrl, prefix, env: { PORT: port } });
      await waitUntil(async () => (await health(server)).subscriptions >= 1, 'the resubscription', client);
      await report('qr-6');
      await waitFor(until('qr-6'), `${name} to print the event after the restart: ${client.stderr()}`, 30_000);

      expect(printed()).toEqual(['qr-1', 'qr-2', 'qr-3', 'qr-4', 'qr-5', 'qr-6']);
      expect(client.stderr()).not.toMatch(/could not be replayed|TypeError|ReferenceError|is not defined/);
    }, 120_000);
  }
});

/**
 * A session of the snippets' user (`owner`, whose token they run with), made on `server()`, and a
 * way to report a new QR code for it there as the gateway does (a `QrCodeUpdated` event each).
 */
async function snippetSession(server: () => TestServer) {
  const owner = await tokenFor(user('agent-1', ['agent'], 'org-snippets'));
  const gateway = await tokenFor(user('gateway', ['service'], 'org-snippets'));
  const { createSession } = await ok<{ createSession: { id: string } }>(
    server(),
    'mutation { createSession(name: "Snippet") { id } }',
    {},
    owner,
  );
  const report = (qrCode: string) =>
    ok(
      server(),
      'mutation ($input: SessionStatusReport!) { reportSessionStatus(input: $input) { id } }',
      { input: { sessionId: createSession.id, status: 'QR_REQUIRED', qrCode } },
      gateway,
    );
  return { owner, sessionId: createSession.id, report };
}

/** Polls an async condition (the server's /health), failing with the client's output. */
async function waitUntil(
  condition: () => Promise<boolean>,
  what: string,
  client: { stdout(): string; stderr(): string },
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting for ${what}; client printed:\n${client.stdout()}\n${client.stderr()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

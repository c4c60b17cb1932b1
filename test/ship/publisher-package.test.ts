import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok, startTestServer, subscribeWs, tokenFor, uniquePrefix, user, wsClient } from '../support/harness.js';
import { build as bundle } from 'esbuild';
import { snippet } from './readme.js';
import { build, exec, ROOT } from './support.js';

const SLOW = 180_000;

/**
 * `@realtime-graphql/publisher` as another team gets it: packed with
 * `npm pack`, installed by path into a project of its own, and used from
 * plain JavaScript (ESM and CommonJS) and from TypeScript.
 */
describe('the publisher package', () => {
  const project = mkdtempSync(join(tmpdir(), 'rt-publisher-'));
  afterAll(() => rmSync(project, { recursive: true, force: true }));

  beforeAll(async () => {
    await build();
    const { stdout } = await exec(
      'npm',
      ['pack', join(ROOT, 'packages/publisher'), '--pack-destination', project],
      project,
    );
    const tarball = stdout.trim().split('\n').at(-1)!;
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
    // Its dependencies come from npm's cache when `npm ci` filled it, else from the registry. A front end
    // brings its own graphql-ws (the client entry's peer), and in Node its own WebSocket.
    await exec(
      'npm',
      ['install', `./${tarball}`, 'graphql-ws@6', 'ws@8', '--prefer-offline', '--no-audit', '--no-fund'],
      project,
    );
  }, SLOW);

  it('publishes from plain JavaScript (ESM and CommonJS) events that a subscriber of a live server receives', async () => {
    const prefix = uniquePrefix();
    const server = await startTestServer({ backend: 'redis', prefix });
    const recipient = await tokenFor(user('agent-1', ['agent'], 'org-pkg'));
    const events = await subscribeWs(
      server,
      wsClient(server, recipient),
      'subscription { notificationEvents { __typename ... on NotificationCreated { notification { title } } } }',
    );

    writeFileSync(
      join(project, 'publish.mjs'),
      `import { createPublisher, PublishError } from '@realtime-graphql/publisher';
const publisher = await createPublisher({
  redisUrl: process.env.REDIS_URL,
  redisPrefix: process.env.REDIS_PREFIX,
  actor: { id: 'build-bot', roles: ['service'] },
});
try {
  await publisher.notification({ orgId: 'org-pkg', recipientId: 'agent-1', kind: 'build', title: 'from ESM' });
  await publisher.notification({ orgId: 'org-pkg', recipientId: 'agent-1', kind: 'build', title: '' });
} catch (error) {
  if (!(error instanceof PublishError)) throw error;
  console.log(error.code);
} finally {
  await publisher.close();
}
`,
    );
    writeFileSync(
      join(project, 'publish.cjs'),
      `const { createPublisher } = require('@realtime-graphql/publisher');
(async () => {
  const publisher = await createPublisher({
  redisUrl: process.env.REDIS_URL,
  redisPrefix: process.env.REDIS_PREFIX,
  actor: { id: 'build-bot', roles: ['service'] },
});
  await publisher.notification({ orgId: 'org-pkg', recipientId: 'agent-1', kind: 'build', title: 'from CommonJS' });
  await publisher.close();
})();
`,
    );
    const env = { REDIS_URL: server.config.redisUrl!, REDIS_PREFIX: prefix };
    const esm = await exec(process.execPath, ['publish.mjs'], project, env);
    expect(esm.stdout.trim()).toBe('BAD_USER_INPUT');
    await exec(process.execPath, ['publish.cjs'], project, env);

    expect(await events.waitForEvents(2)).toEqual([
      { __typename: 'NotificationCreated', notification: { title: 'from ESM' } },
      { __typename: 'NotificationCreated', notification: { title: 'from CommonJS' } },
    ]);
  }, 60_000);

  it("runs the README's publisher snippet as copied: a session subscriber and the user receive its events", async () => {
    const prefix = uniquePrefix();
    const server = await startTestServer({ backend: 'redis', prefix });
    const owner = await tokenFor(user('agent-2', ['agent'], 'org-pkg'));
    const { createSession } = await ok<{ createSession: { id: string } }>(
      server,
      'mutation { createSession(name: "Readme") { id } }',
      {},
      owner,
    );
    const session = await subscribeWs(
      server,
      wsClient(server, owner),
      'subscription ($id: ID!) { sessionEvents(sessionId: $id) { __typename ... on QrCodeUpdated { qrCode } } }',
      { id: createSession.id },
    );
    const inbox = await subscribeWs(
      server,
      wsClient(server, owner),
      'subscription { notificationEvents { __typename ... on NotificationCreated { notification { title } } } }',
    );
    const { code, lang } = snippet('publisher');
    expect(lang).toBe('js');
    writeFileSync(join(project, 'readme-publisher.mjs'), code);
    await exec(process.execPath, ['readme-publisher.mjs'], project, {
      REDIS_URL: server.config.redisUrl!,
      REDIS_PREFIX: prefix,
      ORG_ID: 'org-pkg',
      SESSION_ID: createSession.id,
      USER_ID: 'agent-2',
    });
    expect(await session.waitForEvents(2)).toEqual([
      { __typename: 'SessionStatusChanged' },
      { __typename: 'QrCodeUpdated', qrCode: '2@qr' },
    ]);
    expect(await inbox.waitForEvents(1)).toEqual([
      { __typename: 'NotificationCreated', notification: { title: 'Connected' } },
    ]);
  }, 60_000);

  it('serves its client entry (withResume) to plain JavaScript, ESM and CommonJS: a getToken client is answered by a live server', async () => {
    const server = await startTestServer();
    const token = await tokenFor(user('agent-3', ['agent'], 'org-pkg'));
    const program = (imports: string) => `${imports}
const client = createClient(
  withResume({ url: process.env.WS_URL, webSocketImpl: WebSocket, getToken: async () => process.env.TOKEN }),
);
client.subscribe(
  { query: '{ me { id } }' },
  { next: (result) => console.log(JSON.stringify(result.data)), error: (error) => console.log('error', error), complete: () => client.dispose() },
);
`;
    writeFileSync(
      join(project, 'client.mjs'),
      program(`import { createClient } from 'graphql-ws';
import { withResume } from '@realtime-graphql/publisher/client';
import WebSocket from 'ws';`),
    );
    writeFileSync(
      join(project, 'client.cjs'),
      program(`const { createClient } = require('graphql-ws');
const { withResume } = require('@realtime-graphql/publisher/client');
const WebSocket = require('ws');`),
    );
    for (const file of ['client.mjs', 'client.cjs']) {
      const { stdout } = await exec(process.execPath, [file], project, { WS_URL: server.wsUrl, TOKEN: token });
      expect(stdout.trim()).toBe(JSON.stringify({ me: { id: 'agent-3' } }));
    }
  }, 60_000);

  it('bundles its client entry for a browser with nothing of the publisher (no ioredis, no Node built-ins)', async () => {
    writeFileSync(
      join(project, 'browser.js'),
      `import { createClient } from 'graphql-ws';
import { withResume } from '@realtime-graphql/publisher/client';
export const client = createClient(withResume({ url: 'wss://api.example.com/graphql', getToken: () => 'jwt', lazy: true }));
`,
    );
    // platform 'browser': a Node built-in anywhere in the graph fails the build. graphql comes with
    // graphql-ws's own `import` build; everything else would be something the helper dragged in.
    const result = await bundle({
      entryPoints: [join(project, 'browser.js')],
      absWorkingDir: project,
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(
      inputs.filter((input) => !/node_modules\/(graphql|graphql-ws|@realtime-graphql\/publisher)\//.test(input)),
    ).toEqual(['browser.js']);
    expect(inputs).toContain('node_modules/@realtime-graphql/publisher/dist/client.js');
    expect(result.outputFiles[0]!.text).not.toMatch(/ioredis|pino|createPublisher/);
  }, 60_000);

  it(
    'type-checks a TypeScript consumer against its declarations',
    async () => {
      writeFileSync(
        join(project, 'consumer.ts'),
        `import { createPublisher, PublishError, type PublisherOptions } from '@realtime-graphql/publisher';
const options: PublisherOptions = { redisUrl: 'redis://127.0.0.1:6379', actor: { id: 'crm-sync', roles: ['service'] } };
export async function notify(recipientId: string): Promise<string> {
  const publisher = await createPublisher(options);
  try {
    const notification = await publisher.notification({ orgId: 'org-pkg', recipientId, kind: 'crm', title: 'Synced' });
    return notification.id;
  } catch (error) {
    return error instanceof PublishError ? error.code : 'unknown';
  } finally {
    await publisher.close();
  }
}
// @ts-expect-error: the input is typed (a title is required).
export const wrong = (publisher: Awaited<ReturnType<typeof createPublisher>>) => publisher.notification({ orgId: 'o', recipientId: 'u', kind: 'k' });
`,
      );
      writeFileSync(
        join(project, 'front-end.ts'),
        `import { createClient } from 'graphql-ws';
import { withResume, type UnrecoveredSubscription } from '@realtime-graphql/publisher/client';
export const lost: UnrecoveredSubscription[] = [];
export const client = createClient(
  withResume({ url: 'wss://api.example.com/graphql', getToken: async () => 'jwt', onResumeFailed: (s) => lost.push(...s) }),
);
// @ts-expect-error: getToken returns the token, not a header.
export const wrong = withResume({ url: 'wss://x', getToken: () => ({ authorization: 'Bearer jwt' }) });
`,
      );
      writeFileSync(
        join(project, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2022',
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            strict: true,
            noEmit: true,
            skipLibCheck: true,
            typeRoots: [join(ROOT, 'node_modules/@types')],
            types: ['node'],
          },
          files: ['consumer.ts', 'front-end.ts'],
        }),
      );
      await exec(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', '.'], project);
    },
    SLOW,
  );
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok, startTestServer, subscribeWs, tokenFor, uniquePrefix, user, wsClient } from '../support/harness.js';
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
    // Its dependencies come from npm's cache when `npm ci` filled it, else from the registry.
    await exec('npm', ['install', `./${tarball}`, '--prefer-offline', '--no-audit', '--no-fund'], project);
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
          files: ['consumer.ts'],
        }),
      );
      await exec(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', '.'], project);
    },
    SLOW,
  );
});

import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { snippet } from './readme.js';
import { exec, ROOT } from './support.js';

/**
 * The README's client-preset recipe, as a front-end team follows it: the
 * merged `schema.graphql`, the README's `codegen.ts`, one operation; the
 * generated code must type the operation's result, custom scalars included.
 */
describe('typed client operations', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rt-client-codegen-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('generates typed documents from schema.graphql with the README recipe, and they type-check', async () => {
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    copyFileSync(join(ROOT, 'schema.graphql'), join(dir, 'schema.graphql'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'front-end', private: true, type: 'module' }));
    writeFileSync(join(dir, 'codegen.ts'), snippet('client-codegen').code);
    mkdirSync(join(dir, 'src'));
    writeFileSync(
      join(dir, 'src/session.ts'),
      `import type { ResultOf, VariablesOf } from '@graphql-typed-document-node/core';
import { graphql } from './gql';

export const SessionEvents = graphql(\`
  subscription SessionEvents($id: ID!) {
    sessionEvents(sessionId: $id) {
      __typename
      ... on QrCodeUpdated {
        qrCode
        occurredAt
      }
    }
  }
\`);

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Event = ResultOf<typeof SessionEvents>['sessionEvents'];
type QrCode = Extract<Event, { __typename: 'QrCodeUpdated' }>;
export const scalarsMapped: Equal<QrCode['occurredAt'], string> = true;
export const fieldsTyped: Equal<QrCode['qrCode'], string> = true;
export const variables: VariablesOf<typeof SessionEvents> = { id: 'session-1' };
// @ts-expect-error: the session id is required.
export const missing: VariablesOf<typeof SessionEvents> = {};
`,
    );
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'ESNext',
          moduleResolution: 'bundler',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: [],
        },
        include: ['src'],
      }),
    );
    await exec(
      process.execPath,
      [join(ROOT, 'node_modules/@graphql-codegen/cli/cjs/bin.js'), '--config', 'codegen.ts'],
      dir,
    );
    const checked = await exec(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', '.'], dir).catch(
      (error: { stdout: string }) => error,
    );
    expect('stdout' in checked ? checked.stdout : '').toBe('');
  }, 120_000);
});

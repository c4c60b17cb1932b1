import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Kind, parse, type OperationDefinitionNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import type { TokenClaims } from '../../src/auth/jwt.js';
import { createSchema } from '../../src/schema.js';
import {
  BACKENDS,
  gql,
  ok,
  settle,
  startTestServer,
  subscribeWs,
  tokenFor,
  user,
  wsClient,
  type Backend,
} from '../support/harness.js';
import type { AttackerKind, Fixtures, World } from './isolation/types.js';

/**
 * The tenant isolation matrix, generated from the executable schema: every
 * Query, Mutation and Subscription root field is tried by a user of another
 * organisation (holding every role) and by a same-organisation user without
 * the needed role. Nothing of the owner's may be returned, changed or
 * streamed. A root field without a fixture in test/hardening/isolation/
 * fails here: a new domain adds `test/hardening/isolation/<domain>.ts`.
 */
const FOLDER = fileURLToPath(new URL('./isolation/', import.meta.url));
const fixtures: Fixtures = {};
for (const file of readdirSync(FOLDER).filter((name) => name.endsWith('.ts') && name !== 'types.ts')) {
  const module = (await import(/* @vite-ignore */ pathToFileURL(FOLDER + file).href)) as { fixtures?: Fixtures };
  for (const [field, fixture] of Object.entries(module.fixtures ?? {})) {
    if (fixtures[field]) throw new Error(`Two isolation fixtures for ${field}`);
    fixtures[field] = fixture;
  }
}

const schema = createSchema();
const rootFields = [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].flatMap((type) =>
  type ? Object.keys(type.getFields()).map((field) => ({ type: type.name, field, key: `${type.name}.${field}` })) : [],
);

/** The owner of every resource under attack: org-a, an agent, with a name only its own `me` shows. */
const OWNER: TokenClaims = { sub: 'owner', org: 'org-a', roles: ['agent'], name: 'Owner secret-name' };
/** Another organisation's user with every role and the owner's very user id. */
const FOREIGN: TokenClaims = user(OWNER.sub, ['admin', 'agent', 'service'], 'org-b');
const ATTACKERS: AttackerKind[] = ['foreignOrg', 'sameOrgWithoutRole'];

it('has a fixture for every root field, and none for a field that does not exist', () => {
  const missing = rootFields.filter(({ key }) => !fixtures[key]).map(({ key }) => key);
  expect(missing, 'add these to test/hardening/isolation/<domain>.ts').toEqual([]);
  const stale = Object.keys(fixtures).filter((key) => !rootFields.some((root) => root.key === key));
  expect(stale).toEqual([]);
});

describe.each(BACKENDS)('tenant isolation on the %s backend', (backend: Backend) => {
  for (const { type, field, key } of rootFields) {
    for (const kind of ATTACKERS) {
      it(`${key} as ${kind === 'foreignOrg' ? 'another organisation' : 'a same-organisation user without the role'}`, async () => {
        const fixture = fixtures[key];
        if (!fixture)
          throw new Error(`No isolation fixture for ${key}: add one in test/hardening/isolation/<domain>.ts`);
        const server = await startTestServer({ backend });
        const world: World = {
          server,
          owner: OWNER,
          token: (claims) => tokenFor(claims),
          ok: async (query, variables, claims) => ok(server, query, variables, await tokenFor(claims)),
        };
        const attempt = await fixture.arrange(world, kind);
        const attacker = kind === 'foreignOrg' ? FOREIGN : fixture.sameOrgWithoutRole;
        const token = await tokenFor(attacker);

        // The attempt must be about this field.
        const operation = parse(attempt.query).definitions[0] as OperationDefinitionNode;
        expect(operation.operation).toBe(type.toLowerCase());
        const selected = operation.selectionSet.selections.map((selection) =>
          selection.kind === Kind.FIELD ? selection.name.value : undefined,
        );
        expect(selected).toContain(field);

        const before = await attempt.snapshot();
        if (attempt.secrets.length > 0) {
          const shown = attempt.secrets.filter((secret) => JSON.stringify(before).includes(secret));
          expect(shown.length, 'the snapshot must show the secrets it guards').toBeGreaterThan(0);
        }
        const received: unknown[] = [];

        if (type === 'Subscription') {
          const witness = await subscribeWs(
            server,
            wsClient(server, await tokenFor(attempt.witness!)),
            attempt.query,
            attempt.variables,
          );
          const attack = await subscribeWs(server, wsClient(server, token), attempt.query, attempt.variables);
          if (attempt.outcome === 'denied') {
            const error = await attack.waitForError();
            received.push(error);
            expect(JSON.stringify(error)).toMatch(/"code":"(NOT_FOUND|FORBIDDEN)"/);
          }
          // Subscribing changed nothing; the trigger is the owner's own doing.
          expect(await attempt.snapshot(), 'the owner\u2019s data changed').toEqual(before);
          await attempt.trigger!();
          await witness.waitForEvents(1);
          await settle(100);
          received.push(...attack.events);
          if (attempt.streamsOwn) expect(attack.events.length, 'the attacker’s own feed').toBeGreaterThan(0);
          else if (attempt.outcome !== 'allowed')
            expect(attack.events, 'nothing may be streamed to the attacker').toEqual([]);
        } else {
          const result = await gql(server, attempt.query, attempt.variables ?? {}, { token });
          received.push(result);
          if (attempt.outcome === 'denied') {
            expect(result.errors?.[0]?.extensions?.code).toMatch(/^(NOT_FOUND|FORBIDDEN)$/);
            expect((result.data as Record<string, unknown> | null | undefined)?.[field] ?? null).toBeNull();
          }
          if (attempt.expected !== undefined) expect(result.data).toEqual(attempt.expected);
        }

        if (attempt.outcome !== 'allowed') {
          const leaked = attempt.secrets.filter((secret) => JSON.stringify(received).includes(secret));
          expect(leaked, 'the attacker received the owner\u2019s data').toEqual([]);
        }
        if (type !== 'Subscription') expect(await attempt.snapshot(), 'the owner\u2019s data changed').toEqual(before);
      });
    }
  }
});

import type { Fixtures } from './types.js';
import { user } from '../../support/harness.js';

/** The viewer: `me` answers about the caller only; a token is refreshed on the caller's own WebSocket only. */
export const fixtures: Fixtures = {
  'Query.me': {
    sameOrgWithoutRole: user('colleague', []),
    async arrange(world) {
      return {
        query: '{ me { id orgId roles name } }',
        outcome: 'own',
        secrets: [world.owner.name!],
        snapshot: () => world.ok('{ me { id orgId roles name } }', {}, world.owner),
      };
    },
  },
  'Mutation.refreshConnectionToken': {
    sameOrgWithoutRole: user('colleague', []),
    async arrange(world) {
      // Over HTTP (as the matrix sends it) it is BAD_USER_INPUT for everyone; over a WebSocket a
      // token of another user or organisation is FORBIDDEN (test/server/token-refresh.test.ts).
      return {
        query: 'mutation ($token: String!) { refreshConnectionToken(token: $token) }',
        variables: { token: await world.token(world.owner) },
        outcome: 'own',
        expected: null,
        secrets: [],
        snapshot: () => world.ok('{ me { id orgId roles name } }', {}, world.owner),
      };
    },
  },
};

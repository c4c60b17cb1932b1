import type { Fixtures } from './types.js';
import { user } from '../../support/harness.js';

/** The viewer: `me` answers about the caller only. */
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
};

import { settle, subscribeWs, user, wsClient } from '../../support/harness.js';
import type { AttackerKind, Fixtures } from './types.js';

/**
 * The status feed: an admin sees their own organisation's connections and
 * figures only; anyone else in it is refused.
 */
const ADMIN = user('admin-a', ['admin']);
/** A user of the owner's organisation whose id only that organisation's admins can see. */
const SECRET_USER = user('secret-user-a');
const CONNECTIONS = 'query ($userId: ID) { connections(userId: $userId) { id userId transport openedAt } }';

export const fixtures: Fixtures = {
  'Subscription.deploymentStatus': {
    sameOrgWithoutRole: user('colleague', ['agent', 'service']),
    async arrange(world, kind: AttackerKind) {
      const secret = wsClient(world.server, await world.token(SECRET_USER));
      await subscribeWs(world.server, secret, 'subscription { notificationEvents { __typename } }');
      return {
        query: 'subscription { deploymentStatus { connections openConnections { userId instance } } }',
        // Another organisation's admin sees their own organisation: not the secret user.
        outcome: kind === 'foreignOrg' ? 'own' : 'denied',
        streamsOwn: kind === 'foreignOrg',
        secrets: [SECRET_USER.sub],
        snapshot: () => world.ok(CONNECTIONS, { userId: SECRET_USER.sub }, ADMIN),
        // Snapshots come by themselves: the first within 300 ms of subscribing, then every STATUS_INTERVAL_MS.
        trigger: () => settle(1000),
        witness: ADMIN,
      };
    },
  },
};

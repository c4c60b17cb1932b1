import { subscribeWs, user, wsClient } from '../../support/harness.js';
import type { AttackerKind, Fixtures, World } from './types.js';

/**
 * Presence: visible to every member of the same organisation, and only to
 * them. The same user id in another organisation is another user.
 */
const colleague = user('colleague', ['agent']);

/** Opens a WebSocket for the owner (online while it is open). */
async function connectOwner(world: World) {
  const token = await world.token(world.owner);
  await subscribeWs(world.server, wsClient(world.server, token), 'subscription { inboxEvents { __typename } }');
}

export const fixtures: Fixtures = {
  'Query.presence': {
    sameOrgWithoutRole: colleague,
    async arrange(world, kind: AttackerKind) {
      await connectOwner(world);
      const query = 'query ($userIds: [ID!]!) { presence(userIds: $userIds) { userId online lastSeenAt } }';
      return {
        query,
        variables: { userIds: [world.owner.sub] },
        // Another organisation's "owner" is someone else, never seen.
        outcome: kind === 'foreignOrg' ? 'own' : 'allowed',
        expected:
          kind === 'foreignOrg'
            ? { presence: [{ userId: world.owner.sub, online: false, lastSeenAt: null }] }
            : undefined,
        secrets: [],
        snapshot: () => world.ok(query, { userIds: [world.owner.sub] }, colleague),
      };
    },
  },
  'Subscription.presenceChanged': {
    sameOrgWithoutRole: colleague,
    async arrange(world, kind: AttackerKind) {
      const query = 'query ($userIds: [ID!]!) { presence(userIds: $userIds) { userId online } }';
      return {
        query: `subscription ($userIds: [ID!]!) { presenceChanged(userIds: $userIds) { userId online lastSeenAt } }`,
        variables: { userIds: [world.owner.sub] },
        outcome: kind === 'foreignOrg' ? 'own' : 'allowed',
        secrets: [],
        snapshot: () => world.ok(query, { userIds: [world.owner.sub] }, colleague),
        // The owner comes online: their organisation hears it, no one else.
        trigger: () => connectOwner(world),
        witness: colleague,
      };
    },
  },
};

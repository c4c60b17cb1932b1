import { subscribeWs, user, wsClient } from '../../support/harness.js';
import type { AttackerKind, Fixtures, World } from './types.js';

/**
 * The admin API: for `admin` users, over their own organisation only. The
 * same user id in another organisation is another user: nothing of the
 * owner's is listed, closed or revoked from there.
 */
const colleague = user('colleague', ['agent']);
const ownAdmin = user('own-admin', ['admin']);

const CONNECTIONS =
  'query ($userId: ID) { connections(userId: $userId) { id userId transport instance subscriptions } }';

/** The owner with an open WebSocket; the snapshot is what their organisation's admin sees of them, and that their token still works. */
async function ownerConnected(world: World) {
  const token = await world.token(world.owner);
  await subscribeWs(world.server, wsClient(world.server, token), 'subscription { inboxEvents { __typename } }');
  const snapshot = async () => ({
    connections: await world.ok(CONNECTIONS, { userId: world.owner.sub }, ownAdmin),
    me: await world.ok('{ me { id } }', {}, world.owner),
  });
  const { connections } = (await snapshot()).connections as { connections: { id: string }[] };
  return { snapshot, ids: connections.map((connection) => connection.id) };
}

export const fixtures: Fixtures = {
  'Query.connections': {
    sameOrgWithoutRole: colleague,
    async arrange(world, kind: AttackerKind) {
      const { snapshot, ids } = await ownerConnected(world);
      return {
        query: CONNECTIONS,
        variables: { userId: world.owner.sub },
        outcome: kind === 'foreignOrg' ? 'own' : 'denied',
        expected: kind === 'foreignOrg' ? { connections: [] } : undefined,
        secrets: ids,
        snapshot,
      };
    },
  },
  'Mutation.disconnectUser': {
    sameOrgWithoutRole: colleague,
    async arrange(world, kind: AttackerKind) {
      const { snapshot } = await ownerConnected(world);
      return {
        query: 'mutation ($userId: ID!) { disconnectUser(userId: $userId, reason: "attack") }',
        variables: { userId: world.owner.sub },
        outcome: kind === 'foreignOrg' ? 'own' : 'denied',
        expected: kind === 'foreignOrg' ? { disconnectUser: 0 } : undefined,
        secrets: [],
        snapshot,
      };
    },
  },
  'Mutation.revokeTokens': {
    sameOrgWithoutRole: colleague,
    async arrange(world, kind: AttackerKind) {
      const { snapshot } = await ownerConnected(world);
      return {
        query: 'mutation ($userId: ID!) { revokeTokens(userId: $userId) }',
        variables: { userId: world.owner.sub },
        // Another organisation's admin revokes their own "owner", someone else.
        outcome: kind === 'foreignOrg' ? 'own' : 'denied',
        secrets: [],
        snapshot,
      };
    },
  },
};

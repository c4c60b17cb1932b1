import { randomUUID } from 'node:crypto';
import { user } from '../../support/harness.js';
import type { Attempt, AttackerKind, Fixtures, World } from './types.js';

const FIELDS = 'id name status qrCode phoneNumber displayName lastError ownerId createdAt updatedAt';

/** A session of the owner, logged in with a secret QR code and phone number. */
async function ownersSession(world: World) {
  const name = `secret-name-${randomUUID()}`;
  const qrCode = `secret-qr-${randomUUID()}`;
  const phoneNumber = `+${Date.now()}`;
  const gateway = user('gateway', ['service']);
  const created = await world.ok(
    'mutation ($name: String!) { createSession(name: $name) { id } }',
    { name },
    world.owner,
  );
  const id = created.createSession.id as string;
  const report = (input: Record<string, unknown>) =>
    world.ok(
      'mutation ($input: SessionStatusReport!) { reportSessionStatus(input: $input) { id } }',
      { input },
      gateway,
    );
  await report({ sessionId: id, status: 'QR_REQUIRED', qrCode, phoneNumber });
  const admin = user('org-admin', ['admin']);
  return {
    id,
    secrets: [name, qrCode, phoneNumber],
    /** Everything of the organisation's sessions, as its admin sees them. */
    snapshot: async () => (await world.ok(`{ sessions { ${FIELDS} } }`, {}, admin)).sessions,
    /** A gateway report that changes the session: one QrCodeUpdated event. */
    trigger: () => report({ sessionId: id, status: 'QR_REQUIRED', qrCode: `secret-qr-${randomUUID()}` }),
  };
}

/** An attempt on the owner's session by id, denied to both attackers. */
const onSession =
  (query: string, variables: (id: string) => Record<string, unknown> = (id) => ({ id })) =>
  async (world: World): Promise<Attempt> => {
    const session = await ownersSession(world);
    return { query, variables: variables(session.id), outcome: 'denied', ...session };
  };

/** A same-organisation agent who neither owns the session nor is admin or service. */
const otherAgent = user('other-agent', ['agent']);

export const fixtures: Fixtures = {
  'Query.session': {
    sameOrgWithoutRole: otherAgent,
    arrange: onSession(`query ($id: ID!) { session(id: $id) { ${FIELDS} } }`),
  },
  'Query.sessions': {
    sameOrgWithoutRole: otherAgent,
    async arrange(world) {
      const session = await ownersSession(world);
      return {
        query: `{ sessions { ${FIELDS} } }`,
        outcome: 'own',
        ...session,
        // The attacker was never given the id either.
        secrets: [...session.secrets, session.id],
      };
    },
  },
  'Mutation.createSession': {
    // Creating needs admin or agent.
    sameOrgWithoutRole: user('gateway-only', ['service']),
    async arrange(world, kind: AttackerKind) {
      const session = await ownersSession(world);
      return {
        query: `mutation { createSession(name: "planted") { ${FIELDS} } }`,
        // Another organisation's admin may create a session, in their own organisation.
        outcome: kind === 'foreignOrg' ? 'own' : 'denied',
        ...session,
      };
    },
  },
  'Mutation.connectSession': {
    sameOrgWithoutRole: otherAgent,
    arrange: onSession(`mutation ($id: ID!) { connectSession(id: $id) { ${FIELDS} } }`),
  },
  'Mutation.disconnectSession': {
    sameOrgWithoutRole: otherAgent,
    arrange: onSession(`mutation ($id: ID!) { disconnectSession(id: $id) { ${FIELDS} } }`),
  },
  'Mutation.deleteSession': {
    sameOrgWithoutRole: otherAgent,
    arrange: onSession('mutation ($id: ID!) { deleteSession(id: $id) }'),
  },
  'Mutation.reportSessionStatus': {
    // Reporting needs service or admin: the owning agent itself may not.
    sameOrgWithoutRole: user('owner', ['agent']),
    arrange: onSession(
      `mutation ($input: SessionStatusReport!) { reportSessionStatus(input: $input) { ${FIELDS} } }`,
      (id) => ({ input: { sessionId: id, status: 'CONNECTED', phoneNumber: '+1555', displayName: 'hijacked' } }),
    ),
  },
  'Subscription.sessionEvents': {
    sameOrgWithoutRole: otherAgent,
    async arrange(world) {
      const session = await ownersSession(world);
      return {
        query: `subscription ($id: ID!) {
          sessionEvents(sessionId: $id) {
            __typename
            ... on QrCodeUpdated { sessionId qrCode }
            ... on SessionStatusChanged { sessionId status phoneNumber displayName }
          }
        }`,
        variables: { id: session.id },
        outcome: 'denied',
        ...session,
        witness: world.owner,
      };
    },
  },
};

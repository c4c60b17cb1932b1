import { randomUUID } from 'node:crypto';
import { user } from '../../support/harness.js';
import type { Attempt, AttackerKind, Fixtures, World } from './types.js';

const FIELDS = 'id kind title body data readAt createdAt';

/**
 * Notifications: only the recipient ever sees or changes one; to anyone
 * else, an admin of the same organisation included, it reads as missing.
 * Sending needs `admin` or `service`.
 */
const colleague = user('org-admin', ['admin']);

/** An unread notification for the owner, with a secret title, body and data. */
async function ownersNotification(world: World) {
  const title = `secret-title-${randomUUID()}`;
  const body = `secret-body-${randomUUID()}`;
  const data = { secret: `secret-data-${randomUUID()}` };
  const sender = user('sender', ['service']);
  const send = (input: Record<string, unknown>) =>
    world.ok(
      'mutation ($input: SendNotificationInput!) { sendNotification(input: $input) { id } }',
      { input: { recipientId: world.owner.sub, kind: 'test.secret', ...input } },
      sender,
    );
  const sent = await send({ title, body, data });
  return {
    id: sent.sendNotification.id as string,
    secrets: [title, body, data.secret],
    /** The owner's notifications and unread count. */
    snapshot: () => world.ok(`{ notifications { ${FIELDS} } unreadNotificationCount }`, {}, world.owner),
    /** Another notification for the owner: one NotificationCreated. */
    trigger: async () => {
      await send({ title: `secret-title-${randomUUID()}` });
    },
  };
}

/** An attempt by id on the owner's notification: missing to everyone else. */
const onNotification =
  (query: string) =>
  async (world: World): Promise<Attempt> => {
    const notification = await ownersNotification(world);
    return { query, variables: { id: notification.id }, outcome: 'denied', ...notification };
  };

/** An operation about the caller's own notifications: the attacker only ever gets their own (none). */
const ownOnly =
  (query: string, expected?: unknown) =>
  async (world: World): Promise<Attempt> => {
    const notification = await ownersNotification(world);
    return { query, outcome: 'own', expected, ...notification, witness: world.owner };
  };

export const fixtures: Fixtures = {
  'Query.notifications': {
    sameOrgWithoutRole: colleague,
    arrange: ownOnly(`{ notifications { ${FIELDS} } }`, { notifications: [] }),
  },
  'Query.unreadNotificationCount': {
    sameOrgWithoutRole: colleague,
    arrange: ownOnly('{ unreadNotificationCount }', { unreadNotificationCount: 0 }),
  },
  'Mutation.sendNotification': {
    // Sending needs admin or service.
    sameOrgWithoutRole: user('agent-1', ['agent']),
    async arrange(world, kind: AttackerKind) {
      const notification = await ownersNotification(world);
      return {
        query: `mutation ($input: SendNotificationInput!) { sendNotification(input: $input) { ${FIELDS} } }`,
        variables: { input: { recipientId: world.owner.sub, kind: 'planted', title: 'planted' } },
        // Another organisation's service may notify its own user of that id, never ours.
        outcome: kind === 'foreignOrg' ? 'own' : 'denied',
        ...notification,
      };
    },
  },
  'Mutation.markNotificationRead': {
    sameOrgWithoutRole: colleague,
    arrange: onNotification(`mutation ($id: ID!) { markNotificationRead(id: $id) { ${FIELDS} } }`),
  },
  'Mutation.markAllNotificationsRead': {
    sameOrgWithoutRole: colleague,
    arrange: ownOnly('mutation { markAllNotificationsRead }', { markAllNotificationsRead: 0 }),
  },
  'Mutation.deleteNotification': {
    sameOrgWithoutRole: colleague,
    arrange: onNotification('mutation ($id: ID!) { deleteNotification(id: $id) }'),
  },
  'Subscription.notificationEvents': {
    sameOrgWithoutRole: colleague,
    arrange: ownOnly(`subscription {
      notificationEvents {
        __typename
        ... on NotificationCreated { notification { ${FIELDS} } }
        ... on NotificationRead { notificationId }
        ... on NotificationDeleted { notificationId }
        ... on NotificationsBulkRead { notificationIds }
      }
    }`),
  },
};

import { ok, tokenFor, user, type TestServer } from '../support/harness.js';

export const NOTIFICATION_FIELDS = 'id kind title body data readAt createdAt';

export const SEND = `mutation ($input: SendNotificationInput!) { sendNotification(input: $input) { ${NOTIFICATION_FIELDS} } }`;
export const MARK_READ = `mutation ($id: ID!) { markNotificationRead(id: $id) { ${NOTIFICATION_FIELDS} } }`;
export const MARK_ALL = 'mutation { markAllNotificationsRead }';
export const MARK_SOME = 'mutation ($limit: Int) { markAllNotificationsRead(limit: $limit) }';
export const DELETE = 'mutation ($id: ID!) { deleteNotification(id: $id) }';
export const LIST = `query ($unreadOnly: Boolean, $limit: Int, $before: ID) {
  notifications(unreadOnly: $unreadOnly, limit: $limit, before: $before) { ${NOTIFICATION_FIELDS} }
}`;
export const COUNT = '{ unreadNotificationCount }';
export const EVENTS = `subscription {
  notificationEvents {
    __typename
    ... on Event { occurredAt }
    ... on NotificationCreated { notification { ${NOTIFICATION_FIELDS} } }
    ... on NotificationRead { notificationId }
    ... on NotificationDeleted { notificationId wasUnread }
    ... on NotificationsBulkRead { notificationIds }
  }
}`;

/** A notification as the API returns it. */
export type Notification = {
  id: string;
  kind: string;
  title: string;
  body: string | null;
  data: unknown;
  readAt: string | null;
  createdAt: string;
};

/** Senders and recipients of org-a, and users of org-b (one with the same id as an org-a recipient). */
export async function tokens() {
  return {
    admin: await tokenFor(user('admin-1', ['admin'])),
    service: await tokenFor(user('svc-1', ['service'])),
    agent: await tokenFor(user('agent-1', ['agent'])),
    alice: await tokenFor(user('alice', [])),
    bob: await tokenFor(user('bob', ['agent'])),
    foreignAlice: await tokenFor(user('alice', ['admin'], 'org-b')),
    foreignService: await tokenFor(user('svc-x', ['service'], 'org-b')),
  };
}

export async function send(
  server: TestServer,
  token: string,
  input: { recipientId: string; kind?: string; title?: string; body?: string | null; data?: unknown },
): Promise<Notification> {
  const data = await ok(server, SEND, { input: { kind: 'test.kind', title: 'Hello', ...input } }, token);
  return data.sendNotification as Notification;
}

export async function list(server: TestServer, token: string, variables: Record<string, unknown> = {}) {
  return (await ok(server, LIST, variables, token)).notifications as Notification[];
}

export async function unreadCount(server: TestServer, token: string): Promise<number> {
  return (await ok(server, COUNT, {}, token)).unreadNotificationCount as number;
}

/**
 * A backend process publishing into the realtime server over Redis: it
 * reports a gateway session's QR code and login, then notifies a user.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 ORG_ID=org-demo SESSION_ID=<id> USER_ID=agent-1 \
 *     npx tsx examples/publish-events.ts
 *
 * On a Redis Cluster, set REDIS_CLUSTER_NODES=host:port,host:port instead of REDIS_URL.
 *
 * Subscribers of `sessionEvents(sessionId)` and the user's
 * `notificationEvents`, on any server instance, receive the events.
 */
import { createPublisher, PublishError } from '../src/publisher/index.js';

const { REDIS_URL, REDIS_CLUSTER_NODES, REDIS_PREFIX, ORG_ID, SESSION_ID, USER_ID } = process.env;
if (!(REDIS_URL ?? REDIS_CLUSTER_NODES) || !ORG_ID || !SESSION_ID || !USER_ID) {
  process.stderr.write(
    'Set REDIS_URL (or REDIS_CLUSTER_NODES), ORG_ID, SESSION_ID and USER_ID (see the comment at the top of this file).\n',
  );
  process.exit(2);
}

const publisher = await createPublisher({
  redisUrl: REDIS_URL,
  redisClusterNodes: REDIS_CLUSTER_NODES?.split(','),
  redisPrefix: REDIS_PREFIX,
  actor: { id: 'gateway-example', roles: ['service'] },
});
try {
  await publisher.sessionStatus({
    orgId: ORG_ID,
    sessionId: SESSION_ID,
    status: 'QR_REQUIRED',
    qrCode: '2@example-qr',
  });
  const session = await publisher.sessionStatus({
    orgId: ORG_ID,
    sessionId: SESSION_ID,
    status: 'CONNECTED',
    phoneNumber: '+15550100',
    displayName: 'Support line',
  });
  const notification = await publisher.notification({
    orgId: ORG_ID,
    recipientId: USER_ID,
    kind: 'session.connected',
    title: `${session.name} is connected`,
    data: { sessionId: SESSION_ID, phoneNumber: session.phoneNumber },
  });
  process.stdout.write(`published: session ${session.id} ${session.status}, notification ${notification.id}\n`);
} catch (error) {
  if (error instanceof PublishError) {
    process.stderr.write(`refused: ${error.code}: ${error.message}\n`);
    process.exitCode = 1;
  } else {
    throw error;
  }
} finally {
  await publisher.close();
}

import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { topics } from '../../src/events/topics.js';
import {
  dispose,
  errorCode,
  gql,
  health,
  ok,
  startTestServer,
  subscribeWs,
  tokenFor,
  uniquePrefix,
  user,
  wsClient,
  type TestServer,
} from '../support/harness.js';
import { startRedisServer } from '../support/redis-server.js';
import { SESSION_EVENTS } from './fixtures.js';
import { sleep } from './raw-ws.js';

const bin = inject('redisServerBin');

/** Polls `/health` until `check` accepts it. */
async function until(
  server: TestServer,
  check: (h: Awaited<ReturnType<typeof health>>) => boolean,
  timeoutMs = 10_000,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const current = await health(server);
    if (check(current)) return current;
    if (Date.now() > deadline) throw new Error(`health never matched; last ${JSON.stringify(current)}`);
    await sleep(50);
  }
}

describe.skipIf(!bin)('Redis going away and coming back', () => {
  it('keeps answering, fails Redis writes fast, and resumes every live subscription after Redis returns', async () => {
    let redis = await startRedisServer(bin!);
    const port = redis.port;
    dispose(() => redis.stop());
    const prefix = uniquePrefix();
    const env = { REDIS_URL: redis.url, REDIS_PREFIX: prefix };
    const a = await startTestServer({ env });
    const b = await startTestServer({ env });
    const agent = await tokenFor(user('agent-1', ['agent']));
    const admin = await tokenFor(user('admin-1', ['admin']));
    const create = 'mutation ($name: String!) { createSession(name: $name) { id } }';
    const watched = (await ok(a, create, { name: 'watched' }, agent)).createSession.id as string;
    const dropped = (await ok(a, create, { name: 'dropped' }, agent)).createSession.id as string;

    const onA = await subscribeWs(a, wsClient(a, agent), SESSION_EVENTS, { sessionId: watched });
    const onB = await subscribeWs(b, wsClient(b, admin), SESSION_EVENTS, { sessionId: watched });
    const leaving = await subscribeWs(b, wsClient(b, admin), SESSION_EVENTS, { sessionId: dropped });

    await redis.stop();
    for (const server of [a, b]) {
      const down = await until(server, (h) => h.status === 503);
      expect(down.body).toMatchObject({ status: 'redis_unavailable', redis: 'down' });
    }

    // Still answering: what needs no Redis works, what needs it fails fast and says so.
    expect((await ok(a, '{ me { id } }', {}, agent)).me.id).toBe('agent-1');
    const started = Date.now();
    const write = await gql(a, create, { name: 'during outage' }, { token: agent });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(write.status).toBe(503);
    expect(errorCode(write)).toBe('SERVICE_UNAVAILABLE');
    expect(JSON.stringify(write.errors)).not.toMatch(/stream|enableOfflineQueue|ECONN|redis:\/\//i);
    const refused = await subscribeWs(b, wsClient(b, admin), SESSION_EVENTS, { sessionId: watched });
    expect(JSON.stringify(await refused.waitForError())).toContain('SERVICE_UNAVAILABLE');

    // A subscription ending while Redis is away must not take the process down
    // (its UNSUBSCRIBE cannot be sent) nor keep the channel subscribed for good.
    leaving.stop();
    await until(b, (h) => h.body.subscriptions === 1);

    redis = await startRedisServer(bin!, port);
    for (const server of [a, b]) await until(server, (h) => h.status === 200 && h.body.redis === 'up');

    // A worker publishes (Redis's data is gone with the old process: Pub/Sub needs none).
    const worker = new Redis(redis.url);
    dispose(() => worker.disconnect());
    const event = {
      __typename: 'SessionStatusChanged',
      sessionId: watched,
      status: 'CONNECTED',
      phoneNumber: null,
      displayName: null,
      occurredAt: new Date().toISOString(),
    };
    const channel = `${prefix}{o:org-a}${topics.session('org-a', watched)}`;
    // Resubscription follows readiness by a round trip: publish until both hear it.
    const deadline = Date.now() + 10_000;
    while ((onA.events.length === 0 || onB.events.length === 0) && Date.now() < deadline) {
      await worker.publish(channel, JSON.stringify(event));
      await sleep(100);
    }
    for (const subscription of [onA, onB]) {
      expect(subscription.events[0]).toMatchObject({ __typename: 'SessionStatusChanged', status: 'CONNECTED' });
      expect(subscription.isCompleted()).toBe(false);
    }
    // The subscriptions' channels (every instance also listens on the admin API's `internal:admin:*`).
    const channels = await worker.pubsub('CHANNELS', `${prefix}*org:*`);
    expect(channels).toEqual([channel]);

    // Writes work again.
    await ok(a, create, { name: 'after outage' }, agent);
  });
});

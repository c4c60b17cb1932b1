import { request } from 'node:http';
import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { dispose, health, settle, startTestServer, tokenFor, user, type TestServer } from '../support/harness.js';

const SUBSCRIPTION = 'subscription { notificationEvents { __typename } }';

/** Sends an SSE subscription over a raw socket and drops it after `ms`, maybe before the server has answered. */
function abandonStream(server: TestServer, token: string, method: 'GET' | 'POST', ms: number) {
  return new Promise<void>((resolve) => {
    const url = new URL(server.graphqlUrl);
    const req = request({
      host: url.hostname,
      port: url.port,
      method,
      path: method === 'GET' ? `/graphql?query=${encodeURIComponent(SUBSCRIPTION)}` : '/graphql',
      headers: {
        accept: 'text/event-stream',
        authorization: `Bearer ${token}`,
        ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
      },
    });
    req.on('error', () => {});
    req.on('response', (res) => res.resume().on('error', () => {}));
    req.end(method === 'POST' ? JSON.stringify({ query: SUBSCRIPTION }) : undefined);
    setTimeout(() => {
      req.destroy();
      resolve();
    }, ms);
  });
}

describe('SSE clients that go away while their subscription is being set up', () => {
  it('leave no subscription, Redis channel or connection slot behind', async () => {
    const server = await startTestServer({ backend: 'redis', env: { MAX_CONNECTIONS_PER_USER: '5' } });
    const token = await tokenFor(user('u1', ['admin']));
    for (const method of ['GET', 'POST'] as const) {
      for (const ms of [0, 1, 2, 3, 5]) {
        for (let i = 0; i < 3; i++) await abandonStream(server, token, method, ms);
      }
    }
    await expect
      .poll(async () => (await health(server)).body, { timeout: 5000 })
      .toMatchObject({ subscriptions: 0, connections: { sse: 0 } });

    const redis = new Redis(inject('redisUrl'));
    dispose(() => redis.quit());
    // No subscription's channel is left (the instance itself listens on the admin API's `internal:admin:*`).
    await expect
      .poll(() => redis.pubsub('CHANNELS', `${server.config.redisPrefix}*org:*`), { timeout: 5000 })
      .toEqual([]);

    // 30 abandoned streams, a limit of 5: the user can still open one.
    const response = await fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: SUBSCRIPTION }),
    });
    expect(response.status).toBe(200);
    await expect.poll(async () => (await health(server)).body.subscriptions).toBe(1);
    await response.body!.cancel();
    await settle();
  });
});

import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import {
  dispose,
  errorCode,
  gql,
  health,
  ok,
  startTestServer,
  subscribeWs,
  tokenFor,
  user,
  wsClient,
} from '../support/harness.js';

describe('GraphQL over HTTP', () => {
  it('answers malformed JSON with 400 BAD_USER_INPUT', async () => {
    const server = await startTestServer();
    const token = await tokenFor(user('u1'));
    const response = await fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: '{"query": "{ me { id } }"',
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { errors: { extensions: { code: string } }[] };
    expect(body.errors[0]!.extensions.code).toBe('BAD_USER_INPUT');
  });

  it('answers invalid documents and variables with BAD_USER_INPUT', async () => {
    const server = await startTestServer();
    const token = await tokenFor(user('u1'));
    const cases: [string, Record<string, unknown>][] = [
      ['{ me { id }', {}],
      ['{ me { password } }', {}],
      ['{ session { id } }', {}],
      ['query ($id: ID!) { session(id: $id) { id } }', {}],
      ['query ($id: ID!) { session(id: $id) { id } }', { id: { nested: true } }],
      ['mutation { createSession(name: 42) { id } }', {}],
    ];
    for (const [query, variables] of cases) {
      const result = await gql(server, query, variables, { token });
      expect(errorCode(result), query).toBe('BAD_USER_INPUT');
      expect(result.data ?? null, query).toBeNull();
    }
  });

  it('runs queries by GET but refuses mutations by GET', async () => {
    const server = await startTestServer();
    const token = await tokenFor(user('u1'));
    const get = (query: string) =>
      fetch(`${server.graphqlUrl}?query=${encodeURIComponent(query)}`, {
        headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
      });
    expect(await (await get('{ me { id } }')).json()).toEqual({ data: { me: { id: 'u1' } } });
    const mutation = await get('mutation { createSession(name: "x") { id } }');
    expect(mutation.status).toBe(405);
  });

  it('masks unexpected failures as INTERNAL_SERVER_ERROR without internals', async () => {
    const server = await startTestServer({ backend: 'redis' });
    const token = await tokenFor(user('u1'));
    const session = (await ok(server, 'mutation { createSession(name: "s") { id } }', {}, token)).createSession;
    // Corrupt the stored record behind the server's back.
    const redis = new Redis(inject('redisUrl'));
    dispose(() => redis.quit());
    await redis.set(`${server.config.redisPrefix}{o:org-a}doc:sessions:${session.id}`, '{not json');
    const result = await gql(server, 'query ($id: ID!) { session(id: $id) { id } }', session, { token });
    expect(errorCode(result)).toBe('INTERNAL_SERVER_ERROR');
    expect(result.errors).toEqual([
      { message: 'Unexpected error.', path: ['session'], extensions: { code: 'INTERNAL_SERVER_ERROR' } },
    ]);
    expect(JSON.stringify(result)).not.toMatch(/JSON|SyntaxError|redis|at \w/i);
  });
});

describe('GET /health', () => {
  it('reports live connection and subscription counts', async () => {
    const server = await startTestServer({ backend: 'redis' });
    expect(await health(server)).toEqual({
      status: 200,
      body: expect.objectContaining({
        status: 'ok',
        redis: 'up',
        connections: { websocket: 0, sse: 0 },
        subscriptions: 0,
      }),
    });
    const token = await tokenFor(user('u1'));
    const session = (await ok(server, 'mutation { createSession(name: "s") { id } }', {}, token)).createSession;
    const client = wsClient(server, token);
    const query = 'subscription ($id: ID!) { sessionEvents(sessionId: $id) { __typename } }';
    const first = await subscribeWs(server, client, query, session);
    await subscribeWs(server, client, query, session);
    expect((await health(server)).body).toMatchObject({ connections: { websocket: 1 }, subscriptions: 2 });
    first.stop();
    await expect.poll(async () => (await health(server)).body.subscriptions).toBe(1);
    await client.dispose();
    await expect
      .poll(async () => (await health(server)).body)
      .toMatchObject({
        connections: { websocket: 0 },
        subscriptions: 0,
      });
  });

  it('says the embedded engine is in use without Redis', async () => {
    const server = await startTestServer();
    expect((await health(server)).body).toMatchObject({ status: 'ok', redis: 'embedded' });
  });
});

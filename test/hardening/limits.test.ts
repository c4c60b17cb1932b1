import { request } from 'node:http';
import { getIntrospectionQuery } from 'graphql';
import { describe, expect, it } from 'vitest';
import {
  BACKENDS,
  errorCode,
  gql,
  ok,
  startCluster,
  startTestServer,
  tokenFor,
  user,
  type TestServer,
} from '../support/harness.js';
import { REPORT, sessionFixture, SESSION_EVENTS } from './fixtures.js';
import { rawSocket } from './raw-ws.js';

/** Sends one operation over a raw WebSocket and returns the first answer for it (`next` or `error`). */
async function overWs(server: TestServer, token: string, query: string, variables: Record<string, unknown> = {}) {
  const socket = await rawSocket(server);
  await socket.init(token);
  socket.send({ id: 'op', type: 'subscribe', payload: { query, variables } });
  const answer = await socket.waitFor((message) => message.id === 'op' && message.type !== 'complete');
  return { answer, errors: (answer.type === 'error' ? answer.payload : answer.payload.errors) as any[] | undefined };
}

/** A chunked POST without Content-Length, written in `chunks` pieces of `size` bytes. */
function chunkedPost(server: TestServer, token: string, chunks: number, size: number) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'transfer-encoding': 'chunked' },
    });
    req.on('response', (response) => {
      let body = '';
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.write('{"query":"{ me { id } }","variables":{"pad":"');
    let written = 0;
    const writeMore = () => {
      while (written < chunks) {
        written++;
        if (!req.write('x'.repeat(size))) return void req.once('drain', writeMore);
      }
      req.end('"}}');
    };
    writeMore();
  });
}

describe('request body size (HTTP_MAX_BODY_BYTES)', () => {
  it('answers 413 to a declared or a streamed body over the limit, and serves one within it', async () => {
    const server = await startTestServer({ env: { HTTP_MAX_BODY_BYTES: '4096' } });
    const token = await tokenFor(user('agent-1'));
    const within = await gql(server, '{ me { id } }', { pad: 'x'.repeat(3500) }, { token });
    expect(within.data).toEqual({ me: { id: 'agent-1' } });

    const declared = await gql(server, '{ me { id } }', { pad: 'x'.repeat(5000) }, { token });
    expect(declared.status).toBe(413);
    expect(errorCode(declared)).toBe('BAD_USER_INPUT');

    const streamed = await chunkedPost(server, token, 64, 1024).catch((error: NodeJS.ErrnoException) => ({
      status: error.code === 'ECONNRESET' || error.code === 'EPIPE' ? 413 : 0,
      body: '{"errors":[{"extensions":{"code":"BAD_USER_INPUT"}}]}',
    }));
    expect(streamed.status).toBe(413);
    expect(JSON.parse(streamed.body).errors[0].extensions.code).toBe('BAD_USER_INPUT');
    const smallStream = await chunkedPost(server, token, 2, 1024);
    expect(JSON.parse(smallStream.body).data.me.id).toBe('agent-1');
  });
});

describe('malformed requests', () => {
  it('answers a body that is not JSON with 400 BAD_USER_INPUT and no parser error text', async () => {
    const server = await startTestServer();
    const token = await tokenFor(user('agent-1'));
    const response = await fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: '{"query": "{ me { id } }",',
    });
    expect(response.status).toBe(400);
    const text = await response.text();
    expect(JSON.parse(text).errors[0].extensions).toEqual({ code: 'BAD_USER_INPUT' });
    expect(text).not.toMatch(/SyntaxError|Unexpected end|originalError/);
  });
});

describe('document limits (GraphQL Armor) on both transports', () => {
  const cases: { limit: string; env: Record<string, string>; query: string; within: string }[] = [
    { limit: 'maxDepth', env: { MAX_DEPTH: '1' }, query: '{ me { id } }', within: '{ __typename }' },
    {
      limit: 'maxAliases',
      env: { MAX_ALIASES: '2' },
      query: '{ a: me { id } b: me { id } c: me { id } }',
      within: '{ a: me { id } b: me { id } }',
    },
    {
      limit: 'maxDirectives',
      env: { MAX_DIRECTIVES: '2' },
      query: '{ me @include(if: true) { id @include(if: true) name @skip(if: false) } }',
      within: '{ me @include(if: true) { id @include(if: true) } }',
    },
    {
      limit: 'maxCost',
      env: { MAX_COST: '5' },
      query: '{ me { id orgId roles name } }',
      within: '{ me { id } }',
    },
  ];
  for (const { limit, env, query, within } of cases) {
    it(`refuses a document over ${limit} with BAD_USER_INPUT over HTTP and WebSocket`, async () => {
      const server = await startTestServer({ env });
      const token = await tokenFor(user('agent-1'));
      const http = await gql(server, query, {}, { token });
      expect(http.status).toBe(400);
      expect(http.data ?? null).toBeNull();
      expect(http.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit });
      const ws = await overWs(server, token, query);
      expect(ws.answer.type).toBe('error');
      expect(ws.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit });
      expect((await gql(server, within, {}, { token })).errors).toBeUndefined();
      expect((await overWs(server, token, within)).errors).toBeUndefined();
    });
  }

  it('limits subscriptions over WebSocket too', async () => {
    const server = await startTestServer({ env: { MAX_ALIASES: '1' } });
    const { agent, sessionId } = await sessionFixture(server);
    const query = `subscription ($sessionId: ID!) { a: sessionEvents(sessionId: $sessionId) { t: __typename } }`;
    const ws = await overWs(server, agent, query, { sessionId });
    expect(ws.answer.type).toBe('error');
    expect(ws.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'maxAliases' });
  });

  it('refuses a document over MAX_TOKENS before parsing it all', async () => {
    const server = await startTestServer({ env: { MAX_TOKENS: '50' } });
    const token = await tokenFor(user('agent-1'));
    const query = `{ ${Array.from({ length: 30 }, (_, i) => `f${i}: __typename`).join(' ')} }`;
    const http = await gql(server, query, {}, { token });
    expect(http.status).toBe(400);
    expect(errorCode(http)).toBe('BAD_USER_INPUT');
    expect(http.errors![0]!.message).toMatch(/Token limit of 50/);
    const ws = await overWs(server, token, query);
    expect(ws.errors![0].extensions.code).toBe('BAD_USER_INPUT');
    expect(ws.errors![0].message).toMatch(/Token limit of 50/);
  });

  it('has sane defaults: 16 aliases or 1001 tokens are refused, GraphiQL\u2019s introspection query passes', async () => {
    const server = await startTestServer();
    const token = await tokenFor(user('agent-1'));
    const aliases = `{ ${Array.from({ length: 16 }, (_, i) => `a${i}: __typename`).join(' ')} }`;
    expect((await gql(server, aliases, {}, { token })).errors![0]!.extensions).toMatchObject({ limit: 'maxAliases' });
    const tokens = `{ ${Array.from({ length: 500 }, () => 'me { id }').join(' ')} }`;
    expect((await gql(server, tokens, {}, { token })).errors![0]!.message).toMatch(/Token limit of 1000/);
    const introspection = getIntrospectionQuery({
      descriptions: true,
      specifiedByUrl: true,
      directiveIsRepeatable: true,
      schemaDescription: true,
      inputValueDeprecation: true,
    });
    const schema = await gql(server, introspection, {}, { token });
    expect(schema.errors).toBeUndefined();
    expect((schema.data as any).__schema.queryType.name).toBe('Query');
  });
});

describe.each(BACKENDS)('operations per second per user on the %s backend (RATE_LIMIT_*)', (backend) => {
  it('refuses operations past the burst with RATE_LIMITED over HTTP (429, Retry-After) and WebSocket alike', async () => {
    const server = await startTestServer({ backend, env: { RATE_LIMIT_BURST: '3', RATE_LIMIT_PER_SECOND: '1' } });
    const ada = await tokenFor(user('ada'));
    for (let i = 0; i < 3; i++) await ok(server, '{ me { id } }', {}, ada);
    const response = await fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ada}` },
      body: JSON.stringify({ query: 'mutation { createSession(name: "too many") { id } }' }),
    });
    expect(response.status).toBe(429);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const body = (await response.json()) as any;
    expect(body.errors[0].extensions.code).toBe('RATE_LIMITED');
    expect(body.data ?? null).toBeNull();
    // The refused mutation did not run.
    expect((await ok(server, '{ sessions { id } }', {}, await tokenFor(user('boss', ['admin'])))).sessions).toEqual([]);

    // The same user's WebSocket draws on the same bucket.
    const ws = await overWs(server, ada, '{ me { id } }');
    expect(ws.errors![0].extensions.code).toBe('RATE_LIMITED');

    // Another user (or the same id in another organisation) has a bucket of their own.
    await ok(server, '{ me { id } }', {}, await tokenFor(user('bob')));
    await ok(server, '{ me { id } }', {}, await tokenFor(user('ada', ['agent'], 'org-b')));
  });

  it('counts subscription starts', async () => {
    const server = await startTestServer({ backend, env: { RATE_LIMIT_BURST: '2', RATE_LIMIT_PER_SECOND: '1' } });
    const { agent, sessionId } = await sessionFixture(server);
    await ok(server, '{ me { id } }', {}, agent);
    const ws = await overWs(server, agent, SESSION_EVENTS, { sessionId });
    expect(ws.errors![0].extensions.code).toBe('RATE_LIMITED');
  });
});

describe('rate limit across instances', () => {
  it('shares one bucket per user through Redis', async () => {
    const [a, b] = await startCluster(2, { RATE_LIMIT_BURST: '4', RATE_LIMIT_PER_SECOND: '1' });
    const ada = await tokenFor(user('ada'));
    await ok(a!, '{ me { id } }', {}, ada);
    await ok(b!, '{ me { id } }', {}, ada);
    await ok(a!, '{ me { id } }', {}, ada);
    await ok(b!, '{ me { id } }', {}, ada);
    expect(errorCode(await gql(a!, '{ me { id } }', {}, { token: ada }))).toBe('RATE_LIMITED');
    expect(errorCode(await gql(b!, '{ me { id } }', {}, { token: ada }))).toBe('RATE_LIMITED');
  });
});

describe('introspection and suggestions (INTROSPECTION, NODE_ENV)', () => {
  const introspectionQueries = ['{ __schema { types { name } } }', '{ __type(name: "Session") { fields { name } } }'];

  it('refuses introspection in production with FORBIDDEN on both transports, allowing __typename', async () => {
    const server = await startTestServer({ env: { NODE_ENV: 'production' } });
    const token = await tokenFor(user('agent-1'));
    for (const query of introspectionQueries) {
      const http = await gql(server, query, {}, { token });
      expect(errorCode(http)).toBe('FORBIDDEN');
      expect(http.data ?? null).toBeNull();
      const ws = await overWs(server, token, query);
      expect(ws.errors![0].extensions.code).toBe('FORBIDDEN');
    }
    expect(await ok(server, '{ __typename me { __typename id } }', {}, token)).toEqual({
      __typename: 'Query',
      me: { __typename: 'Viewer', id: 'agent-1' },
    });
  });

  it('allows introspection in production with INTROSPECTION=true, and outside production by default', async () => {
    const envs: Record<string, string>[] = [
      { NODE_ENV: 'production', INTROSPECTION: 'true' },
      { NODE_ENV: 'development' },
    ];
    for (const env of envs) {
      const server = await startTestServer({ env });
      const token = await tokenFor(user('agent-1'));
      for (const query of introspectionQueries)
        expect((await gql(server, query, {}, { token })).errors).toBeUndefined();
    }
    const off = await startTestServer({ env: { INTROSPECTION: 'false' } });
    expect(errorCode(await gql(off, introspectionQueries[0]!, {}, { token: await tokenFor(user('a')) }))).toBe(
      'FORBIDDEN',
    );
  });

  it('gives no "Did you mean" suggestions in production, on any kind of error or transport', async () => {
    const production = await startTestServer({ env: { NODE_ENV: 'production' } });
    const development = await startTestServer();
    const { service, sessionId } = await sessionFixture(production);
    const dev = await sessionFixture(development);
    const typo = '{ me { idd } }';
    const badEnum = { input: { sessionId, status: 'CONNECTD' } };
    const inlineEnum = `mutation { reportSessionStatus(input: { sessionId: "${sessionId}", status: CONNECTD }) { id } }`;

    const messages = async (server: TestServer, token: string, session: string) => {
      const found: string[] = [];
      for (const [query, variables] of [
        [typo, {}],
        [REPORT, { input: { ...badEnum.input, sessionId: session } }],
        [inlineEnum.replace(sessionId, session), {}],
      ] as const) {
        const http = await gql(server, query, variables, { token });
        found.push(...http.errors!.map((error) => error.message));
        const ws = await overWs(server, token, query, variables);
        found.push(...ws.errors!.map((error: any) => error.message));
      }
      return found;
    };
    const hidden = await messages(production, service, sessionId);
    expect(hidden).toHaveLength(6);
    for (const message of hidden) expect(message).not.toMatch(/did you mean/i);
    expect(hidden[0]).toMatch(/Cannot query field "idd"/);

    const shown = await messages(development, dev.service, dev.sessionId);
    expect(shown.filter((message) => /Did you mean/.test(message)).length).toBe(6);
  });
});

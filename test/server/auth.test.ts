import { createServer, type Server } from 'node:http';
import { createClient as createSseClient } from 'graphql-sse';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
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
  TEST_JWT_SECRET,
} from '../support/harness.js';

const ME = '{ me { id orgId roles name } }';

/** Opens a raw graphql-transport-ws socket, sends connection_init, and reports how it ends. */
function rawConnect(url: string, payload: unknown) {
  return new Promise<{ acked: boolean; code?: number; reason?: string }>((resolve) => {
    const socket = new WebSocket(url, 'graphql-transport-ws');
    dispose(() => socket.terminate());
    let acked = false;
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload })));
    socket.on('message', (data) => {
      if (JSON.parse(String(data)).type === 'connection_ack') {
        acked = true;
        resolve({ acked });
      }
    });
    socket.on('close', (code, reason) => resolve({ acked, code, reason: reason.toString() }));
  });
}

async function hsToken(claims: Record<string, unknown>, secret = TEST_JWT_SECRET, exp: string | number = '1h') {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime(exp)
    .sign(new TextEncoder().encode(secret));
}

describe('authentication over HTTP', () => {
  it('answers the viewer from a valid token', async () => {
    const server = await startTestServer();
    const token = await tokenFor({ sub: 'u1', org: 'org-a', roles: ['agent', 'admin'], name: 'Uma' });
    const data = await ok(server, ME, {}, token);
    expect(data.me).toEqual({ id: 'u1', orgId: 'org-a', roles: ['AGENT', 'ADMIN'], name: 'Uma' });
  });

  it('refuses a missing, malformed, forged, expired or incomplete token with 401 UNAUTHENTICATED', async () => {
    const server = await startTestServer();
    const cases: Record<string, string | undefined> = {
      missing: undefined,
      malformed: 'not-a-jwt',
      forged: await hsToken({ sub: 'u1', org: 'org-a', roles: ['admin'] }, 'another-secret-that-is-long-enough-32'),
      expired: await hsToken(
        { sub: 'u1', org: 'org-a', roles: [] },
        TEST_JWT_SECRET,
        Math.floor(Date.now() / 1000) - 10,
      ),
      'without org': await hsToken({ sub: 'u1', roles: ['agent'] }),
      'with an unknown role': await hsToken({ sub: 'u1', org: 'org-a', roles: ['root'] }),
      'without exp': await new SignJWT({ sub: 'u1', org: 'org-a', roles: [] })
        .setProtectedHeader({ alg: 'HS256' })
        .sign(new TextEncoder().encode(TEST_JWT_SECRET)),
    };
    for (const [name, token] of Object.entries(cases)) {
      const result = await gql(server, ME, {}, { token });
      expect(result.status, name).toBe(401);
      expect(errorCode(result), name).toBe('UNAUTHENTICATED');
      expect(result.data ?? null, name).toBeNull();
    }
    const noScheme = await gql(server, ME, {}, { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    expect(noScheme.status).toBe(401);
  });

  it('checks issuer and audience when configured', async () => {
    const server = await startTestServer({ env: { JWT_ISSUER: 'https://auth.example', JWT_AUDIENCE: 'realtime' } });
    const claims = { sub: 'u1', org: 'org-a', roles: ['agent'] };
    const wrong = await hsToken({ ...claims, iss: 'https://evil.example', aud: 'realtime' });
    expect(errorCode(await gql(server, ME, {}, { token: wrong }))).toBe('UNAUTHENTICATED');
    const right = await hsToken({ ...claims, iss: 'https://auth.example', aud: 'realtime' });
    expect((await ok(server, ME, {}, right)).me.id).toBe('u1');
  });

  it('refuses tokens living longer than JWT_MAX_TOKEN_AGE_SECONDS, and tokens without iat, once it is set', async () => {
    const claims = { sub: 'u1', org: 'org-a', roles: ['agent'] };
    const year3000 = Math.floor(Date.UTC(3000, 0, 1) / 1000);
    const forever = await hsToken(claims, TEST_JWT_SECRET, year3000);
    const hour = await hsToken(claims, TEST_JWT_SECRET, '1h');
    const withoutIat = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    // An iat in the future would let exp sit anywhere: refused too.
    const futureIat = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt(year3000 - 60)
      .setExpirationTime(year3000)
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));

    // Unset (the default), every one of them is accepted.
    const open = await startTestServer();
    for (const token of [forever, hour, withoutIat]) expect((await ok(open, ME, {}, token)).me.id).toBe('u1');

    const bounded = await startTestServer({ env: { JWT_MAX_TOKEN_AGE_SECONDS: '86400' } });
    expect((await ok(bounded, ME, {}, hour)).me.id).toBe('u1');
    expect(await rawConnect(bounded.wsUrl, { token: hour })).toEqual({ acked: true });
    for (const [name, token] of Object.entries({ forever, withoutIat, futureIat })) {
      const result = await gql(bounded, ME, {}, { token });
      expect(result.status, name).toBe(401);
      expect(errorCode(result), name).toBe('UNAUTHENTICATED');
      expect(result.data ?? null, name).toBeNull();
      expect(await rawConnect(bounded.wsUrl, { token }), name).toMatchObject({ acked: false, code: 4403 });
    }
  });

  it('refuses a token it accepted before once its exp has passed', async () => {
    const server = await startTestServer({ env: { JWT_MAX_TOKEN_AGE_SECONDS: '60' } });
    const now = Math.floor(Date.now() / 1000);
    // Expires within two to three seconds: used three times before, refused after, on the same instance.
    const shortLived = await new SignJWT({ sub: 'u1', org: 'org-a', roles: ['agent'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt(now)
      .setExpirationTime(now + 3)
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    for (let i = 0; i < 3; i++) expect((await ok(server, ME, {}, shortLived)).me.id).toBe('u1');
    expect(await rawConnect(server.wsUrl, { token: shortLived })).toEqual({ acked: true });
    await new Promise((resolve) => setTimeout(resolve, (now + 3) * 1000 - Date.now() + 50));
    const result = await gql(server, ME, {}, { token: shortLived });
    expect(result.status).toBe(401);
    expect(errorCode(result)).toBe('UNAUTHENTICATED');
    expect(result.errors?.[0]?.message).toMatch(/expired/);
    expect(await rawConnect(server.wsUrl, { token: shortLived })).toMatchObject({ acked: false, code: 4403 });
  });

  it.each(['RS256', 'ES256'] as const)('verifies %s tokens against a PEM public key', async (alg) => {
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
    const server = await startTestServer({ env: { JWT_SECRET: '', JWT_PUBLIC_KEY: await exportSPKI(publicKey) } });
    const token = await new SignJWT({ org: 'org-a', roles: ['service'] })
      .setProtectedHeader({ alg })
      .setSubject('svc')
      .setExpirationTime('1h')
      .sign(privateKey);
    expect((await ok(server, ME, {}, token)).me).toMatchObject({ id: 'svc', roles: ['SERVICE'] });
    // A token signed with the shared-secret algorithm is refused: no algorithm confusion.
    const hs = await hsToken({ sub: 'svc', org: 'org-a', roles: ['service'] });
    expect(errorCode(await gql(server, ME, {}, { token: hs }))).toBe('UNAUTHENTICATED');
  });

  it('verifies tokens against a JWKS endpoint', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'key-1', alg: 'ES256', use: 'sig' };
    const jwks: Server = createServer((_, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    dispose(() => new Promise((resolve) => jwks.close(resolve)));
    const { port } = jwks.address() as { port: number };
    const server = await startTestServer({
      env: { JWT_SECRET: '', JWT_JWKS_URL: `http://127.0.0.1:${port}/jwks.json` },
    });
    const token = await new SignJWT({ org: 'org-a', roles: ['admin'] })
      .setProtectedHeader({ alg: 'ES256', kid: 'key-1' })
      .setSubject('jwks-user')
      .setExpirationTime('1h')
      .sign(privateKey);
    expect((await ok(server, ME, {}, token)).me.id).toBe('jwks-user');
    const unknownKid = await new SignJWT({ org: 'org-a', roles: ['admin'] })
      .setProtectedHeader({ alg: 'ES256', kid: 'key-2' })
      .setSubject('jwks-user')
      .setExpirationTime('1h')
      .sign(privateKey);
    expect(errorCode(await gql(server, ME, {}, { token: unknownKid }))).toBe('UNAUTHENTICATED');
  });
});

describe('authentication over WebSocket', () => {
  it('accepts the token as authorization, Authorization or a bare token', async () => {
    const server = await startTestServer();
    const token = await tokenFor(user('u1'));
    for (const payload of [{ authorization: `Bearer ${token}` }, { Authorization: `Bearer ${token}` }, { token }]) {
      expect(await rawConnect(server.wsUrl, payload)).toEqual({ acked: true });
    }
  });

  it('closes with 4403 Forbidden for a missing or bad token', async () => {
    const server = await startTestServer();
    const expired = await tokenFor(user('u1'), Math.floor(Date.now() / 1000) - 5);
    for (const payload of [undefined, {}, { authorization: 'Bearer nope' }, { token: expired }]) {
      const result = await rawConnect(server.wsUrl, payload);
      expect(result).toMatchObject({ acked: false, code: 4403 });
    }
  });

  it('runs queries and mutations over the socket with the connection’s viewer', async () => {
    const server = await startTestServer();
    const client = wsClient(server, await tokenFor(user('ws-user', ['agent'])));
    const query = client.iterate({ query: 'mutation { createSession(name: "Over WS") { ownerId name } }' });
    const { value } = await query.next();
    expect(value).toEqual({ data: { createSession: { ownerId: 'ws-user', name: 'Over WS' } } });
  });

  it('closes a socket with 4403 within 1 s of its token’s expiry, ending its subscriptions', async () => {
    const server = await startTestServer();
    const expiresAt = Math.floor(Date.now() / 1000) + 2;
    const token = await tokenFor(user('short-lived', ['agent']), expiresAt);
    const owner = await tokenFor(user('short-lived', ['agent']));
    const session = (await ok(server, 'mutation { createSession(name: "s") { id } }', {}, owner)).createSession;
    let closed: { code: number; at: number } | undefined;
    const client = wsClient(server, token, {
      on: { closed: (event) => (closed = { code: (event as { code: number }).code, at: Date.now() }) },
    });
    const subscription = await subscribeWs(
      server,
      client,
      'subscription ($id: ID!) { sessionEvents(sessionId: $id) { __typename } }',
      { id: session.id },
    );
    await subscription.completed;
    await expect.poll(() => closed, { timeout: 4000 }).toBeDefined();
    expect(closed!.code).toBe(4403);
    expect(closed!.at).toBeGreaterThanOrEqual(expiresAt * 1000 - 50);
    expect(closed!.at - expiresAt * 1000).toBeLessThan(1000);
    await expect.poll(async () => (await health(server)).body.subscriptions).toBe(0);
  });
});

describe('subscriptions over SSE', () => {
  it('streams events to a graphql-sse client (distinct connections) authenticated by header', async () => {
    const server = await startTestServer({ backend: 'redis' });
    const agent = await tokenFor(user('sse-user', ['agent']));
    const service = await tokenFor(user('svc', ['service']));
    const session = (await ok(server, 'mutation { createSession(name: "s") { id } }', {}, agent)).createSession;
    const client = createSseClient({
      url: server.graphqlUrl,
      headers: { authorization: `Bearer ${agent}` },
      retryAttempts: 0,
    });
    dispose(() => client.dispose());
    const iterator = client.iterate<{ sessionEvents: { __typename: string; qrCode?: string } }>({
      query: 'subscription ($id: ID!) { sessionEvents(sessionId: $id) { __typename ... on QrCodeUpdated { qrCode } } }',
      variables: { id: session.id },
    });
    const first = iterator.next();
    await expect
      .poll(async () => (await health(server)).body)
      .toMatchObject({ subscriptions: 1, connections: { sse: 1 } });
    await ok(
      server,
      'mutation ($id: ID!) { reportSessionStatus(input: { sessionId: $id, status: QR_REQUIRED, qrCode: "qr-sse" }) { id } }',
      { id: session.id },
      service,
    );
    // Each event carries its resume offset, as over WebSocket (and as the SSE event's id).
    const offset = { offset: expect.stringMatching(/^\S+\.\d+-\d+$/) };
    expect((await first).value).toEqual({
      data: { sessionEvents: { __typename: 'SessionStatusChanged' } },
      extensions: offset,
    });
    expect((await iterator.next()).value).toEqual({
      data: { sessionEvents: { __typename: 'QrCodeUpdated', qrCode: 'qr-sse' } },
      extensions: offset,
    });
    await iterator.return?.();
    await expect
      .poll(async () => (await health(server)).body)
      .toMatchObject({ subscriptions: 0, connections: { sse: 0 } });
  });

  it('refuses an SSE subscription without a token with 401', async () => {
    const server = await startTestServer();
    const response = await fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: 'subscription { sessionEvents(sessionId: "x") { __typename } }' }),
    });
    expect(response.status).toBe(401);
    expect(await response.text()).toContain('UNAUTHENTICATED');
  });
});

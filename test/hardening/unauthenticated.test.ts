import { request } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createClient as createSseClient } from 'graphql-sse';
import { describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { dispose, health, ok, startTestServer, tokenFor, user, type TestServer } from '../support/harness.js';
import { rawSocket } from './raw-ws.js';

/**
 * What a stranger without a token can make the server do (issue 11, items 1
 * to 3), tried with raw HTTP as an attacker would, against a server in this
 * process so its CPU, event loop and heap can be watched.
 */

const MiB = 1024 * 1024;

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/**
 * A raw HTTP request. `body: 'withhold'` declares a body of `declaredLength`
 * bytes in the headers and never sends it: only a server that answers
 * before reading the body can answer at all.
 */
function send(
  server: TestServer,
  options: {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: Buffer | string | 'withhold';
    declaredLength?: number;
  } = {},
): Promise<RawResponse> {
  const { method = 'POST', path = '/graphql', headers = {}, body, declaredLength = 4 * MiB } = options;
  const length = body === undefined ? undefined : body === 'withhold' ? declaredLength : Buffer.byteLength(body);
  return new Promise((resolve, reject) => {
    const req = request(
      `${server.url}${path}`,
      {
        method,
        headers: { ...(length === undefined ? {} : { 'content-length': String(length) }), ...headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
        res.on('error', reject);
      },
    );
    // The server may close the connection before the client has sent everything: that is the point.
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') reject(error);
    });
    if (body === 'withhold') req.flushHeaders();
    else req.end(body);
  });
}

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/graphql-response+json' };

/** Exactly what a stranger may learn: 401 and `UNAUTHENTICATED`, nothing about the schema. */
function expectOnlyUnauthenticated(response: RawResponse, label: string) {
  expect(response.status, label).toBe(401);
  const body = JSON.parse(response.text) as { errors: { extensions: Record<string, unknown> }[]; data?: unknown };
  expect(body.errors, label).toHaveLength(1);
  expect(body.errors[0]!.extensions, label).toEqual({ code: 'UNAUTHENTICATED' });
  expect(body.data, label).toBeUndefined();
  expect(response.text, label).not.toMatch(/Cannot query|Did you mean|Unknown|Syntax|Expected|Session|Query|type/);
}

/** The heap after full collections, in bytes. */
const collectGarbage = (() => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();
function heapUsed(): number {
  collectGarbage();
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

/** CPU time (user + system, ms) this process spends while `work` runs. */
async function cpuMsOf(work: () => Promise<unknown>): Promise<number> {
  const before = process.cpuUsage();
  await work();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

/** Milliseconds for `/health` to answer. */
async function healthMs(server: TestServer): Promise<number> {
  const start = performance.now();
  expect((await health(server)).status).toBe(200);
  return performance.now() - start;
}

/** Milliseconds for a WebSocket ping to be answered. */
function pingMs(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => {
    const start = performance.now();
    ws.once('pong', () => resolve(performance.now() - start));
    ws.ping();
  });
}

describe('a stranger without a token, over HTTP', () => {
  it('is answered 401 before the body is even read, and the connection is closed', async () => {
    const server = await startTestServer();
    // 4 MiB declared, not one byte sent: a server reading the body first would wait forever.
    const response = await send(server, { headers: JSON_HEADERS, body: 'withhold' });
    expectOnlyUnauthenticated(response, 'withheld body');
    expect(response.headers.connection).toBe('close');
    expect(response.headers['www-authenticate']).toBe('Bearer');
    const forged = await send(server, {
      headers: { ...JSON_HEADERS, authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.e30.forged' },
      body: 'withhold',
    });
    expectOnlyUnauthenticated(forged, 'forged token');
  });

  it('is not invited to send its body with Expect: 100-continue; a caller with a token is', async () => {
    const server = await startTestServer();
    const token = await tokenFor(user('agent-1'));
    const body = JSON.stringify({ query: '{ me { id } }' });
    const attempt = (headers: Record<string, string>) =>
      new Promise<{ invited: boolean; response: RawResponse }>((resolve, reject) => {
        let invited = false;
        const req = request(server.graphqlUrl, {
          method: 'POST',
          headers: { ...JSON_HEADERS, expect: '100-continue', 'content-length': String(body.length), ...headers },
        });
        req.on('continue', () => {
          invited = true;
          req.end(body);
        });
        req.on('response', (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          res.on('end', () =>
            resolve({ invited, response: { status: res.statusCode ?? 0, headers: res.headers, text } }),
          );
        });
        req.on('error', reject);
        req.flushHeaders();
      });
    const stranger = await attempt({});
    expect(stranger.invited).toBe(false);
    expectOnlyUnauthenticated(stranger.response, 'expect 100-continue');
    const caller = await attempt({ authorization: `Bearer ${token}` });
    expect(caller.invited).toBe(true);
    expect(JSON.parse(caller.response.text)).toEqual({ data: { me: { id: 'agent-1' } } });
  });

  it('costs the server little CPU with a 4 MiB junk body', async () => {
    const server = await startTestServer();
    const junk = Buffer.alloc(4 * MiB - 1024, 'a');
    await send(server, { headers: JSON_HEADERS, body: '{}' }); // warm up the code paths
    let response: RawResponse | undefined;
    const cpuMs = await cpuMsOf(async () => (response = await send(server, { headers: JSON_HEADERS, body: junk })));
    expectOnlyUnauthenticated(response!, 'junk');
    // It cost about 1.2 s when the body was read and handed on before the token was looked at.
    expect(cpuMs).toBeLessThan(400);
  });

  it('cannot stall other clients: /health and WebSocket pings stay prompt while junk bodies arrive', async () => {
    const server = await startTestServer();
    const token = await tokenFor(user('agent-1'));
    const socket = await rawSocket(server);
    await socket.init(token);
    const junk = Buffer.alloc(4 * MiB - 1024, 'a');
    const uploads = Promise.all(Array.from({ length: 4 }, () => send(server, { headers: JSON_HEADERS, body: junk })));
    let done = false;
    void uploads.finally(() => (done = true));
    const latencies: number[] = [];
    while (!done) latencies.push(await healthMs(server), await pingMs(socket.ws));
    // Two such bodies at once stalled every socket for over a second.
    expect(Math.max(...latencies)).toBeLessThan(500);
    for (const response of await uploads) expectOnlyUnauthenticated(response, 'junk');
  });

  it('learns nothing of the schema from invalid documents, over POST, GET and SSE', async () => {
    const server = await startTestServer({ env: { INTROSPECTION: 'false' } });
    const expired = await tokenFor(user('agent-1'), Math.floor(Date.now() / 1000) - 60);
    const documents = [
      '{ sessionz { id } }',
      '{ session { id } }',
      '{ session(id: 1) { nope } }',
      'mutation { createSession(name: 1) { id } }',
      'subscription { sessionEvents { __typename } }',
      '{ __schema { types { name } } }',
      '{ me { ',
    ];
    for (const authorization of [undefined, 'Bearer not-a-token', `Bearer ${expired}`]) {
      const auth: Record<string, string> = authorization ? { authorization } : {};
      for (const query of documents) {
        const label = `${authorization ?? 'no token'}: ${query}`;
        const body = JSON.stringify({ query });
        expectOnlyUnauthenticated(await send(server, { headers: { ...JSON_HEADERS, ...auth }, body }), `POST ${label}`);
        const path = `/graphql?query=${encodeURIComponent(query)}`;
        expectOnlyUnauthenticated(
          await send(server, { method: 'GET', path, headers: { accept: 'application/json', ...auth } }),
          `GET ${label}`,
        );
        const sse = { accept: 'text/event-stream', ...auth };
        expectOnlyUnauthenticated(await send(server, { method: 'GET', path, headers: sse }), `SSE GET ${label}`);
        expectOnlyUnauthenticated(
          await send(server, { headers: { ...sse, 'content-type': 'application/json' }, body }),
          `SSE POST ${label}`,
        );
      }
    }
    // With a token the same document is explained: the answer above is the token's doing.
    const token = await tokenFor(user('agent-1'));
    const known = await send(server, {
      headers: { ...JSON_HEADERS, authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: documents[0] }),
    });
    expect(known.text).toContain('Cannot query field');
  });

  it('still gets GraphiQL\u2019s page, CORS preflights and /health', async () => {
    const server = await startTestServer({ env: { CORS_ORIGINS: 'https://app.example.com' } });
    const page = await send(server, { method: 'GET', headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.text).toContain('GraphiQL');
    const preflight = await send(server, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example.com',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });
    expect(preflight.status).toBeLessThan(300);
    expect(preflight.headers['access-control-allow-origin']).toBe('https://app.example.com');
    // An allowed page can read the 401, so it knows to fetch a fresh token.
    const refused = await send(server, {
      headers: { ...JSON_HEADERS, origin: 'https://app.example.com' },
      body: JSON.stringify({ query: '{ me { id } }' }),
    });
    expectOnlyUnauthenticated(refused, 'from an allowed origin');
    expect(refused.headers['access-control-allow-origin']).toBe('https://app.example.com');
    expect((await health(server)).status).toBe(200);
  });

  it('leaves nothing in memory with distinct multi-megabyte documents', async () => {
    const server = await startTestServer();
    const count = 40;
    // Whitespace is not a token: each document is valid and under MAX_TOKENS, and 1 MiB long.
    const bodies = Array.from({ length: count }, (_, i) =>
      JSON.stringify({ query: `query Q${i} { me { id } }${' '.repeat(MiB)}` }),
    );
    await send(server, { headers: JSON_HEADERS, body: bodies[0] });
    const before = heapUsed();
    for (const body of bodies) {
      expectOnlyUnauthenticated(await send(server, { headers: JSON_HEADERS, body }), 'big document');
    }
    const grown = heapUsed() - before;
    // Cached, they would hold 40 MiB.
    expect(grown).toBeLessThan(8 * MiB);
  });
});

describe('big bodies with a token', () => {
  it('parses a 4 MiB body once, without blocking the event loop for long', async () => {
    const server = await startTestServer();
    const token = await tokenFor(user('agent-1'));
    const auth = { ...JSON_HEADERS, authorization: `Bearer ${token}` };
    // A legitimate 4 MiB body: variables the operation does not declare are ignored.
    const legit = JSON.stringify({ query: '{ me { id } }', variables: { pad: 'x'.repeat(4 * MiB - 1024) } });
    await ok(server, '{ me { id } }', {}, token);
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const response = await send(server, { headers: auth, body: legit });
    delay.disable();
    expect(response.status).toBe(200);
    expect(JSON.parse(response.text)).toEqual({ data: { me: { id: 'agent-1' } } });
    // Handed on as a Buffer, whatwg-node walked it key by key: over a second of blocked event loop.
    expect(delay.max / 1e6).toBeLessThan(600);
  });

  it('keeps the document caches within DOCUMENT_CACHE_MAX_BYTES, over HTTP and WebSocket', async () => {
    const server = await startTestServer({ env: { DOCUMENT_CACHE_MAX_BYTES: String(4 * MiB) } });
    const token = await tokenFor(user('agent-1'));
    const auth = { ...JSON_HEADERS, authorization: `Bearer ${token}` };
    const socket = await rawSocket(server);
    await socket.init(token);
    // Valid documents (cached as parsed) and documents with a syntax error (cached as errors), under 1 MiB each.
    // (Flat strings, made before the heap is first measured: V8 would flatten a concatenation on first use.)
    const documents = Array.from({ length: 40 }, (_, i) =>
      Buffer.from(`query Q${i} { me { id } ${i % 2 ? '' : '}'}${' '.repeat(MiB - 1024)}`).toString(),
    );
    await send(server, { headers: auth, body: JSON.stringify({ query: documents[0] }) });
    const before = heapUsed();
    const statuses = new Set<number>();
    for (const [i, query] of documents.entries()) {
      if (i % 4 < 2) {
        statuses.add((await send(server, { headers: auth, body: JSON.stringify({ query }) })).status);
      } else {
        socket.send({ type: 'subscribe', id: `op-${i}`, payload: { query } });
        const done = await socket.waitFor((message) => message.id === `op-${i}` && message.type !== 'next');
        statuses.add(done.type === 'complete' ? 200 : 400);
      }
    }
    expect([...statuses].sort()).toEqual([200, 400]);
    const grown = heapUsed() - before;
    // yoga's own cache keeps 1000 documents whatever their size: 40 MiB here.
    expect(grown).toBeLessThan(12 * MiB);
    // Documents are still cached and served.
    expect((await ok(server, '{ me { id } }', {}, token)).me.id).toBe('agent-1');
  });

  it('weighs a cached document by its syntax tree, not only its source', async () => {
    const server = await startTestServer({ env: { DOCUMENT_CACHE_MAX_BYTES: String(MiB) } });
    const token = await tokenFor(user('agent-1'));
    const auth = { ...JSON_HEADERS, authorization: `Bearer ${token}` };
    // About 960 tokens in 3 KB of source: a syntax tree of some 400 KB each.
    const bodies = Array.from({ length: 60 }, (_, i) =>
      JSON.stringify({
        query: Array.from({ length: 120 }, (_, op) => `query Q${i}x${op} { me { id } }`).join('\n'),
        operationName: `Q${i}x0`,
      }),
    );
    await send(server, { headers: auth, body: bodies[0] });
    const before = heapUsed();
    for (const body of bodies) expect((await send(server, { headers: auth, body })).status).toBe(200);
    const grown = heapUsed() - before;
    // Weighed by their 3 KB of source alone, all 60 would stay: over 20 MiB.
    expect(grown).toBeLessThan(8 * MiB);
  });
});

describe('the viewer the transport verified', () => {
  it('ends an SSE subscription when its token expires', async () => {
    const server = await startTestServer();
    const expiresAt = Math.floor(Date.now() / 1000) + 2;
    const token = await tokenFor(user('short-lived'), expiresAt);
    const owner = await tokenFor(user('short-lived'));
    const session = (await ok(server, 'mutation { createSession(name: "s") { id } }', {}, owner)).createSession;
    const client = createSseClient({
      url: server.graphqlUrl,
      headers: { authorization: `Bearer ${token}` },
      retryAttempts: 0,
    });
    dispose(() => client.dispose());
    const iterator = client.iterate({
      query: 'subscription ($id: ID!) { sessionEvents(sessionId: $id) { __typename } }',
      variables: { id: session.id },
    });
    const ended = iterator.next();
    await expect
      .poll(async () => (await health(server)).body)
      .toMatchObject({ subscriptions: 1, connections: { sse: 1 } });
    // Live until the token expires, then the stream ends.
    expect((await ended).done).toBe(true);
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt * 1000 - 50);
    expect(Date.now() - expiresAt * 1000).toBeLessThan(1500);
    await expect
      .poll(async () => (await health(server)).body)
      .toMatchObject({ subscriptions: 0, connections: { sse: 0 } });
  });
});

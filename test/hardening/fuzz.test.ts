import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import { dispose, TEST_JWT_SECRET, tokenFor, uniquePrefix, user } from '../support/harness.js';
import { freePort } from '../support/redis-server.js';

/**
 * Fuzzing a live server in a process of its own (production settings, on
 * Redis): random and malformed WebSocket messages, GraphQL documents over
 * both transports, and malformed HTTP requests. Bounded in runs and time.
 * The server must never crash, never put internals (stack frames, paths,
 * Redis or JavaScript error text) in anything it sends, and its memory
 * must stay bounded.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TIME_LIMIT_MS = 12_000;

/** Internals that must never reach a client. Matches of text the client sent itself are ignored. */
const LEAKS = [
  /\bat [\w.<>]+ \(/, // stack frame
  /\/work\/|node_modules|file:\/\//,
  /\.(ts|js|mjs|cjs):\d+/,
  /ECONNREFUSED|ECONNRESET|EPIPE|ioredis|enableOfflineQueue|Stream isn't writeable|WRONGTYPE|ERR /,
  /TypeError|ReferenceError|RangeError|SyntaxError|call stack|Cannot read propert|is not a function|undefined is not/,
];

function leaksIn(received: string, sent: string): string[] {
  const found: string[] = [];
  for (const pattern of LEAKS) {
    const match = pattern.exec(received);
    if (match && !sent.includes(match[0])) found.push(match[0]);
  }
  return found;
}

/** The server as production runs it, in a child process. */
async function startServerProcess() {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', '--max-old-space-size=512', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      NODE_ENV: 'production',
      JWT_SECRET: TEST_JWT_SECRET,
      LOG_LEVEL: 'fatal',
      REDIS_URL: inject('redisUrl'),
      REDIS_PREFIX: uniquePrefix(),
      RATE_LIMIT_PER_SECOND: '100000',
      RATE_LIMIT_BURST: '100000',
      MAX_CONNECTIONS_PER_USER: '1000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  dispose(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited: ${output}`);
    const ready = await fetch(`${url}/health`).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) throw new Error(`server did not start: ${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    alive: () => child.exitCode === null && child.signalCode === null,
    output: () => output,
    /** Resident memory of the server process, in bytes. */
    rss: () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) * 1024,
  };
}

type Server = Awaited<ReturnType<typeof startServerProcess>>;

/**
 * One connection: optional init, the fuzzed messages, then a sentinel
 * operation. Resolves with everything received once the sentinel is
 * answered or the server closed the socket.
 */
function wsRun(server: Server, token: string, init: 'valid' | 'garbage' | 'none', messages: (string | Uint8Array)[]) {
  return new Promise<{ received: string[]; close?: { code: number; reason: string }; hung: boolean }>((resolve) => {
    const ws = new WebSocket(server.wsUrl, 'graphql-transport-ws');
    const received: string[] = [];
    const sentinel = `__end_${Math.random().toString(36).slice(2)}`;
    let finished = false;
    const finish = (close?: { code: number; reason: string }, hung = false) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      ws.terminate();
      resolve({ received, close, hung });
    };
    const timer = setTimeout(() => finish(undefined, true), 5000);
    ws.on('error', () => {});
    ws.on('close', (code, reason) => finish({ code, reason: String(reason) }));
    ws.on('message', (data) => {
      const text = String(data);
      received.push(text);
      if (text.includes(sentinel) && /"type":"(complete|error)"/.test(text)) finish();
    });
    ws.on('open', () => {
      if (init === 'valid')
        ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
      if (init === 'garbage')
        ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: 'Bearer x.y.z' } }));
      for (const message of messages) ws.send(message);
      ws.send(JSON.stringify({ id: sentinel, type: 'subscribe', payload: { query: '{ __typename }' } }));
    });
  });
}

/** Pieces of GraphQL, valid and not, that random documents are made of. */
const PIECES = [
  '{',
  '}',
  '(',
  ')',
  '[',
  ']',
  ':',
  '...',
  '!',
  '=',
  '$',
  '@',
  ',',
  '|',
  '&',
  'query',
  'mutation',
  'subscription',
  'fragment',
  'on',
  'F',
  'Session',
  'Viewer',
  'Query',
  'me',
  'id',
  'name',
  'roles',
  'orgId',
  'session',
  'sessions',
  'sessionEvents',
  'sessionId',
  'createSession',
  'connectSession',
  'deleteSession',
  'reportSessionStatus',
  'input',
  'status',
  'CONNECTED',
  'SLEEPING',
  '__schema',
  '__type',
  '__typename',
  'types',
  'fields',
  '@include(if: true)',
  '@skip(if: $v)',
  '@deprecated',
  '$v',
  '$v: Boolean',
  '$id: ID!',
  'Int',
  'String',
  '"text"',
  '"\\u0000"',
  '"""block"""',
  '1',
  '-1.5e10',
  'true',
  'null',
  '#comment\n',
  'a:',
  'b:',
  '\u00e9',
  '\ud83d\ude00',
  '\\',
  '"',
  'x'.repeat(300),
];

const arbitraryDocument = fc.oneof(
  fc.array(fc.constantFrom(...PIECES), { maxLength: 60 }).map((parts) => parts.join(' ')),
  fc.array(fc.constantFrom(...PIECES), { maxLength: 20 }).map((parts) => `{ ${parts.join(' ')} }`),
  fc.string({ maxLength: 200 }),
  fc.constantFrom('{'.repeat(500), `{ me { ${'id '.repeat(2000)} } }`, '{ a: me { id } '.repeat(40)),
);

const arbitraryVariables = fc.oneof(
  fc.constant(undefined),
  fc.dictionary(fc.constantFrom('v', 'id', 'input', 'name', 'sessionId'), fc.jsonValue({ maxDepth: 3 })),
);

const arbitraryWsMessage: fc.Arbitrary<string | Uint8Array> = fc.oneof(
  fc.string({ maxLength: 100 }),
  fc.uint8Array({ maxLength: 100 }),
  fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
  fc
    .record(
      {
        type: fc.oneof(
          fc.constantFrom(
            'connection_init',
            'ping',
            'pong',
            'subscribe',
            'complete',
            'next',
            'error',
            'connection_ack',
          ),
          fc.string({ maxLength: 10 }),
        ),
        id: fc.oneof(fc.constantFrom('1', '2', ''), fc.string({ maxLength: 5 }), fc.integer()),
        payload: fc.oneof(
          fc.jsonValue({ maxDepth: 2 }),
          fc.record(
            {
              query: fc.oneof(arbitraryDocument, fc.integer()),
              variables: arbitraryVariables,
              operationName: fc.option(fc.string({ maxLength: 5 })),
            },
            { requiredKeys: [] },
          ),
        ),
      },
      { requiredKeys: [] },
    )
    .map((message) => JSON.stringify(message)),
);

const arbitraryHttp = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'),
  contentType: fc.constantFrom(
    'application/json',
    'application/graphql',
    'application/graphql-response+json',
    'text/plain',
    'multipart/form-data; boundary=xyz',
    'application/x-www-form-urlencoded',
    ';;;',
  ),
  accept: fc.constantFrom('application/json', 'text/event-stream', 'multipart/mixed', '*/*', 'text/html', 'x'),
  body: fc.oneof(
    fc.string({ maxLength: 300 }),
    fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
    fc
      .record({
        query: arbitraryDocument,
        variables: arbitraryVariables,
        operationName: fc.option(fc.string({ maxLength: 5 })),
      })
      .map((value) => JSON.stringify(value)),
  ),
  search: fc.oneof(
    fc.constant(''),
    arbitraryDocument.map((query) => `?query=${encodeURIComponent(query)}`),
    fc.string({ maxLength: 50 }).map((raw) => `?${raw}`),
  ),
  withToken: fc.boolean(),
});

async function httpRun(
  server: Server,
  token: string,
  request: fc.Arbitrary<any> extends fc.Arbitrary<infer T> ? T : never,
) {
  const controller = AbortSignal.timeout(5000);
  const hasBody = !['GET', 'OPTIONS'].includes(request.method);
  const response = await fetch(`${server.url}/graphql${request.search}`, {
    method: request.method,
    headers: {
      'content-type': request.contentType,
      accept: request.accept,
      ...(request.withToken ? { authorization: `Bearer ${token}` } : {}),
    },
    body: hasBody ? request.body : undefined,
    signal: controller,
  });
  // An SSE stream may stay open: read what comes within a moment, then drop it.
  const text = await Promise.race([
    response.text(),
    new Promise<string>((resolve) => setTimeout(() => resolve(''), 300)),
  ]);
  void response.body?.cancel().catch(() => {});
  return { status: response.status, text, type: response.headers.get('content-type') ?? '' };
}

describe('fuzzing a live server', () => {
  it('never crashes, never leaks internals, and keeps its memory bounded', { timeout: 120_000 }, async () => {
    const server = await startServerProcess();
    const token = await tokenFor(user('fuzzer', ['admin', 'agent', 'service']));
    const failures: string[] = [];
    const check = (what: string, received: string, sent: string) => {
      const leaks = leaksIn(received, sent);
      if (leaks.length > 0) failures.push(`${what}: leaked ${JSON.stringify(leaks)} in ${received.slice(0, 300)}`);
    };

    const wsProperty = fc.asyncProperty(
      fc.constantFrom('valid', 'valid', 'garbage', 'none') as fc.Arbitrary<'valid' | 'garbage' | 'none'>,
      fc.array(arbitraryWsMessage, { minLength: 1, maxLength: 6 }),
      async (init, messages) => {
        const sent = messages
          .map((message) => (typeof message === 'string' ? message : Buffer.from(message).toString()))
          .join('\n');
        const { received, close, hung } = await wsRun(server, token, init, messages);
        if (hung) failures.push(`websocket: no answer to the sentinel after ${sent.slice(0, 300)}`);
        if (close?.code === 4500) failures.push(`websocket: closed 4500 after ${sent.slice(0, 300)}`);
        check('websocket', received.join('\n') + (close?.reason ?? ''), sent);
        return server.alive();
      },
    );
    const documentProperty = fc.asyncProperty(arbitraryDocument, arbitraryVariables, async (query, variables) => {
      const sent = query + JSON.stringify(variables ?? {});
      const http = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query, variables }),
      });
      const text = await http.text();
      if (http.status >= 500) failures.push(`http ${http.status} for ${sent.slice(0, 300)}`);
      check('http document', text, sent);
      const ws = await wsRun(server, token, 'valid', [
        JSON.stringify({ id: 'doc', type: 'subscribe', payload: { query, variables } }),
      ]);
      if (ws.close?.code === 4500 || ws.hung)
        failures.push(`websocket document broke the socket: ${sent.slice(0, 300)}`);
      check('websocket document', ws.received.join('\n'), sent);
      return server.alive();
    });
    const httpProperty = fc.asyncProperty(arbitraryHttp, async (request) => {
      const sent = JSON.stringify(request);
      const { status, text, type } = await httpRun(server, token, request);
      if (status >= 500) failures.push(`http ${status} for ${sent.slice(0, 300)}`);
      // GraphiQL's page (text/html for a browser) is static and bundles library code: not an answer to check.
      if (!type.includes('text/html')) check('http', text, sent);
      return server.alive();
    });

    const run = (property: fc.IAsyncProperty<any>, numRuns: number) =>
      fc.assert(property, { numRuns, interruptAfterTimeLimit: TIME_LIMIT_MS, markInterruptAsFailure: false });

    // Warm up (JIT, pools, caches), then measure over a bounded run.
    await run(wsProperty, 30);
    await run(documentProperty, 30);
    const before = server.rss();
    await run(wsProperty, 400);
    await run(documentProperty, 300);
    await run(httpProperty, 400);
    const after = server.rss();

    expect(failures.slice(0, 10)).toEqual([]);
    expect(server.alive(), server.output()).toBe(true);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    expect(server.output(), 'the server logged a fatal error').not.toMatch(/"level":60/);
    // Generous: a leak of even a few KiB per run would pass this within a thousand runs.
    expect(after - before).toBeLessThan(96 * 1024 * 1024);
  });
});

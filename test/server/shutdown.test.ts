import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';
import { topics } from '../../src/events/topics.js';
import type { SessionEvent } from '../../src/sessions/events.js';
import {
  dispose,
  ok,
  startTestServer,
  TEST_JWT_SECRET,
  tokenFor,
  uniquePrefix,
  user,
  type TestServer,
} from '../support/harness.js';
import { rawSocket } from '../hardening/raw-ws.js';
import { startRedisServer } from '../support/redis-server.js';
import { SESSION_EVENTS } from '../hardening/fixtures.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SHUTDOWN_TIMEOUT_MS = 1500;
const PRESENCE = `query ($userIds: [ID!]!) { presence(userIds: $userIds) { userId online } }`;

/** `src/main.ts` as `npm start` runs it, on the test Redis with `prefix`. */
async function startProcess(prefix: string, redisUrl = inject('redisUrl')) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      JWT_SECRET: TEST_JWT_SECRET,
      REDIS_URL: redisUrl,
      REDIS_PREFIX: prefix,
      EMBEDDED_WORKER: 'off',
      SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
      MAX_CONNECTIONS_PER_USER: '1',
      // Nothing is cut off for being slow before shutdown: the clients below stay as they are.
      WS_MAX_BUFFERED_BYTES: String(256 * 1024 * 1024),
      WS_KEEPALIVE_MS: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.resume();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  dispose(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    return exited;
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stdout}`)), 15_000);
    const check = () => {
      const found = /"url":"(http:\/\/[^"]+)\/graphql"/.exec(stdout);
      if (!found) return;
      clearTimeout(timer);
      child.stdout!.off('data', check);
      resolve(found[1]!);
    };
    child.stdout!.on('data', check);
  });
  return { child, exited, url, output: () => stdout };
}

/** A raw TCP connection to the server, destroyed after the test. */
async function tcp(url: string): Promise<{ socket: Socket; received: () => string }> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  dispose(() => socket.destroy());
  socket.on('error', () => {});
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  await new Promise((resolve) => socket.once('connect', resolve));
  return { socket, received: () => received };
}

async function until(check: () => boolean, what: string) {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A client frame: text, masked, as RFC 6455 requires of clients. */
function clientFrame(message: unknown): Buffer {
  const payload = Buffer.from(JSON.stringify(message));
  const mask = randomBytes(4);
  const header =
    payload.length < 126
      ? Buffer.from([0x81, 0x80 | payload.length])
      : Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
  const masked = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]!));
  return Buffer.concat([header, mask, masked]);
}

/**
 * Completes the WebSocket handshake and `connection_init`, runs `subscribe`
 * messages, then never reads nor answers again (no pong, no close frame).
 */
async function unresponsiveWebSocket(url: string, token: string, subscribe: unknown[] = []) {
  const { socket, received } = await tcp(url);
  const { host } = new URL(url);
  socket.write(
    `GET /graphql HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
      `Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n`,
  );
  await until(() => received().startsWith('HTTP/1.1 101'), 'the upgrade');
  socket.write(clientFrame({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
  await until(() => received().includes('connection_ack'), 'connection_ack');
  for (const message of subscribe) socket.write(clientFrame(message));
  return socket;
}

async function isOnline(witness: TestServer, token: string, userId: string): Promise<boolean> {
  const { presence } = await ok(witness, PRESENCE, { userIds: [userId] }, token);
  return presence[0].online as boolean;
}

/** Whether `token`'s user may open a WebSocket on `witness` (one connection per user: 4029 while one is held). */
async function mayConnect(witness: TestServer, token: string): Promise<boolean> {
  const socket = await rawSocket(witness);
  socket.send({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } });
  const answer = await Promise.race([
    socket.waitFor((message) => message.type === 'connection_ack').then(() => true),
    socket.closed.then(({ code }) => (code === 4029 ? false : Promise.reject(new Error(`closed ${code}`)))),
  ]);
  socket.ws.close();
  await socket.closed;
  return answer;
}

/** A 32 KiB QR code: a few dozen fill a stalled socket with megabytes. */
const qr = (n: number) => `${n}:`.padEnd(32 * 1024, 'q');

describe('shutdown', () => {
  it(`finishes within SHUTDOWN_TIMEOUT_MS (+1 s) whatever clients do, exits 0 and gives back presence and connection slots`, async () => {
    const prefix = uniquePrefix();
    const run = await startProcess(prefix);
    // Another instance on the same Redis: what the process holds is seen from here.
    const witness = await startTestServer({ backend: 'redis', prefix, env: { MAX_CONNECTIONS_PER_USER: '1' } });
    const stuck = await tokenFor(user('stuck'));
    const reader = await tokenFor(user('reader'));
    const observer = await tokenFor(user('observer'));
    const sessionId = (await ok(witness, 'mutation { createSession(name: "flood") { id } }', {}, stuck)).createSession
      .id as string;

    // 1. Never answers the close frame, and stopped reading with megabytes of events queued for it.
    const ws = await unresponsiveWebSocket(run.url, stuck, [
      { id: '1', type: 'subscribe', payload: { query: SESSION_EVENTS, variables: { sessionId } } },
    ]);
    ws.pause();
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (let n = 0; n < 150; n++) {
      const event: SessionEvent = {
        __typename: 'QrCodeUpdated',
        sessionId,
        qrCode: qr(n),
        occurredAt: new Date().toISOString(),
      };
      await witness.server.runtime.bus.publish(topics.session('org-a', sessionId), event);
    }
    // 2. An SSE subscription whose client stopped reading.
    const sse = await tcp(run.url);
    const body = JSON.stringify({ query: 'subscription { notificationEvents { __typename } }' });
    sse.socket.write(
      `POST /graphql HTTP/1.1\r\nHost: ${new URL(run.url).host}\r\nAuthorization: Bearer ${reader}\r\n` +
        `Content-Type: application/json\r\nAccept: text/event-stream\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    await until(() => sse.received().startsWith('HTTP/1.1 200'), 'the SSE stream');
    sse.socket.pause();
    // 3. A request still in flight: its body never finishes arriving.
    const slow = await tcp(run.url);
    slow.socket.write(
      `POST /graphql HTTP/1.1\r\nHost: ${new URL(run.url).host}\r\nAuthorization: Bearer ${observer}\r\n` +
        `Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"query":`,
    );

    await expect.poll(() => isOnline(witness, observer, 'stuck')).toBe(true);
    await expect.poll(() => isOnline(witness, observer, 'reader')).toBe(true);
    expect(await mayConnect(witness, stuck)).toBe(false);
    expect(await mayConnect(witness, reader)).toBe(false);

    const started = Date.now();
    run.child.kill('SIGTERM');
    const code = await run.exited;
    const took = Date.now() - started;
    expect({ code, took: took < SHUTDOWN_TIMEOUT_MS + 1000 }).toEqual({ code: 0, took: true });
    expect(run.output()).toContain('"msg":"shut down"');

    // Given back at shutdown, not left to lapse (presence after 30 s, slots after 60 s).
    expect(await isOnline(witness, observer, 'stuck')).toBe(false);
    expect(await isOnline(witness, observer, 'reader')).toBe(false);
    expect(await mayConnect(witness, stuck)).toBe(true);
    expect(await mayConnect(witness, reader)).toBe(true);
  }, 30_000);

  it.skipIf(!inject('redisServerBin'))(
    'exits 0 within SHUTDOWN_TIMEOUT_MS (+1 s) when Redis stops answering: what it holds lapses by itself',
    async () => {
      const redis = await startRedisServer(inject('redisServerBin')!);
      dispose(async () => {
        process.kill(redis.pid, 'SIGCONT');
        await redis.stop();
      });
      const run = await startProcess(uniquePrefix(), redis.url);
      // A connection: its slot and presence are what shutdown would give back.
      const socket = await rawSocket({
        url: run.url,
        graphqlUrl: `${run.url}/graphql`,
        wsUrl: `${run.url.replace(/^http/, 'ws')}/graphql`,
      } as TestServer);
      await socket.init(await tokenFor(user('agent-1')));

      process.kill(redis.pid, 'SIGSTOP');
      const started = Date.now();
      run.child.kill('SIGTERM');
      const code = await run.exited;
      expect(code, run.output().slice(-3000)).toBe(0);
      // The bound allows for the process' own exit on a loaded machine (seen up to 1.7 s past the timeout).
      expect(Date.now() - started).toBeLessThan(SHUTDOWN_TIMEOUT_MS + 2500);
      expect(run.output()).toContain('presence and connection slots will lapse by themselves');
    },
    30_000,
  );
});

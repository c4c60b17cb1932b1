/**
 * A load-generator process: opens many subscriber connections speaking a
 * real wire protocol (graphql-transport-ws, Engine.IO 4 / Socket.IO 5, or
 * plain ws) from one source address, and counts events. The hot path is
 * one `indexOf` and a few digit reads per message: no JSON parse.
 */
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { clock } from '../lib/clock.js';
import { Histogram } from '../lib/histogram.js';
import { MARK, PROBE_RUN } from '../lib/payload.js';
import {
  emptyStats,
  type ClientTarget,
  type ConnectTiming,
  type FromWorker,
  type ToWorker,
  type WorkerStats,
} from '../lib/protocol.js';

const localAddress = process.env.BENCH_LOCAL_ADDRESS || undefined;
const MARK_BYTES = Buffer.from(MARK);
const COLON = 58;

interface Conn {
  ws: WebSocket;
  ready: boolean;
  live: boolean;
  got: number;
}

const conns: Conn[] = [];
const stats: WorkerStats = emptyStats();
let run = -1;
let expected = Infinity;
let histogram = new Histogram();
/** Failed connections of the current batch, by cause. */
let failures: Record<string, number> = {};

const send = (message: FromWorker) => process.send!(message);

/** Reads an unsigned decimal at `pos`; returns [value, position after the colon]. */
function readNumber(data: Buffer, pos: number): [number, number] {
  let value = 0;
  let fraction = 0;
  let scale = 1;
  for (; pos < data.length; pos++) {
    const c = data[pos]!;
    if (c === COLON) return [value + fraction / scale, pos + 1];
    if (c === 46 /* . */) {
      scale = 1;
      fraction = 0;
      for (pos++; pos < data.length && data[pos] !== COLON; pos++) {
        fraction = fraction * 10 + (data[pos]! - 48);
        scale *= 10;
      }
      return [value + fraction / scale, pos + 1];
    }
    value = value * 10 + (c - 48);
  }
  return [value, pos];
}

/** Counts a bench event; false when the message carries none (a protocol message). */
function onEvent(conn: Conn, data: Buffer): boolean {
  const at = data.indexOf(MARK_BYTES);
  if (at < 0) return false;
  const now = clock();
  const [eventRun, afterRun] = readNumber(data, at + MARK_BYTES.length);
  const [, afterSeq] = readNumber(data, afterRun);
  const [publishedAt] = readNumber(data, afterSeq);
  if (eventRun === PROBE_RUN) {
    if (!conn.live) {
      conn.live = true;
      stats.live++;
    }
    return true;
  }
  if (eventRun !== run) return true;
  histogram.record(now - publishedAt);
  stats.received++;
  stats.lastAt = now;
  if (++conn.got === expected) stats.done++;
  return true;
}

async function tokenFor(target: ClientTarget, user: number, key: Uint8Array): Promise<string> {
  const org = target.orgs?.[user % target.topics.length] ?? target.org;
  return new SignJWT({ org, roles: ['admin'], name: `bench user ${user}` })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(`bench-user-${user}`)
    .setExpirationTime('3h')
    .sign(key);
}

/** Opens one connection and resolves once it is subscribed (or has failed). */
function open(target: ClientTarget, index: number, token: string): Promise<void> {
  const base = target.urls[index % target.urls.length]!;
  const topic = target.topics[index % target.topics.length]!;
  return new Promise<void>((resolve) => {
    let settled = false;
    const settle = (ok: boolean, cause = 'failed') => {
      if (settled) return;
      settled = true;
      if (ok) {
        conn.ready = true;
        stats.open++;
      } else {
        stats.failed++;
        failures[cause] = (failures[cause] ?? 0) + 1;
        conn.ws.terminate();
      }
      resolve();
    };
    const options = { localAddress, perMessageDeflate: false, handshakeTimeout: 20_000, skipUTF8Validation: true };
    let ws: WebSocket;
    switch (target.kind) {
      case 'graphql-transport-ws':
        ws = new WebSocket(base, 'graphql-transport-ws', options);
        break;
      case 'socket.io':
        ws = new WebSocket(`${base}/socket.io/?EIO=4&transport=websocket`, options);
        break;
      case 'ws':
        ws = new WebSocket(`${base}/?room=${encodeURIComponent(topic)}&token=${encodeURIComponent(token)}`, options);
        break;
    }
    const conn: Conn = { ws, ready: false, live: false, got: 0 };
    conns.push(conn);
    ws.on('error', (error: Error & { code?: string }) =>
      settle(false, error.code ?? (/timed out/i.test(error.message) ? 'timeout' : error.message.slice(0, 60))),
    );
    ws.on('close', (code: number) => {
      if (conn.ready) stats.dropped++;
      settle(false, `close ${code}`);
    });

    if (target.kind === 'graphql-transport-ws') {
      ws.on('open', () =>
        ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })),
      );
      ws.on('message', (data: Buffer) => {
        if (onEvent(conn, data)) return;
        const message = JSON.parse(data.toString()) as { type: string };
        if (message.type === 'connection_ack') {
          ws.send(
            JSON.stringify({
              id: '1',
              type: 'subscribe',
              payload: { query: target.query, variables: { sessionId: topic } },
            }),
          );
          settle(true);
        } else if (message.type === 'ping') {
          ws.send('{"type":"pong"}');
        } else if (message.type === 'error' || message.type === 'complete') {
          stats.protocolErrors++;
        }
      });
    } else if (target.kind === 'socket.io') {
      ws.on('message', (data: Buffer) => {
        if (onEvent(conn, data)) return;
        const text = data.toString();
        if (text === '2') ws.send('3');
        else if (text.startsWith('0{')) ws.send(`40${JSON.stringify({ token })}`);
        else if (text.startsWith('40')) ws.send(`420${JSON.stringify(['join', topic])}`);
        else if (text.startsWith('430')) settle(true);
        else if (text.startsWith('44')) {
          stats.protocolErrors++;
          settle(false);
        }
      });
    } else {
      ws.on('open', () => settle(true));
      ws.on('message', (data: Buffer) => onEvent(conn, data));
    }
  });
}

async function connect(
  target: ClientTarget,
  count: number,
  firstUser: number,
  concurrency: number,
  presign = false,
): Promise<ConnectTiming> {
  const key = new TextEncoder().encode(target.secret);
  failures = {};
  const tokens = presign
    ? await Promise.all(
        Array.from({ length: count }, (_, index) =>
          tokenFor(target, target.users ? (firstUser + index) % target.users : firstUser + index, key),
        ),
      )
    : [];
  const startedAt = clock();
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const index = next++;
      const user = target.users ? (firstUser + index) % target.users : firstUser + index;
      const token = tokens[index] ?? (await tokenFor(target, user, key));
      await open(target, firstUser + index, token);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  return { startedAt, settledAt: clock(), failures };
}

process.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'connect':
      void connect(message.target, message.count, message.firstUser, message.concurrency, message.presign).then(
        (timing) => send({ type: 'connected', stats: { ...stats }, timing }),
      );
      break;
    case 'arm':
      run = message.run;
      expected = message.expected;
      histogram = new Histogram();
      stats.received = 0;
      stats.done = 0;
      stats.lastAt = 0;
      for (const conn of conns) conn.got = 0;
      send({ type: 'armed' });
      break;
    case 'stats':
      send({ type: 'stats', stats: { ...stats } });
      break;
    case 'report':
      send({ type: 'report', stats: { ...stats }, histogram: histogram.sparse(), max: histogram.max });
      break;
    case 'exit':
      for (const conn of conns) conn.ws.terminate();
      process.exit(0);
  }
});
// The orchestrator is gone: leave at once.
process.on('disconnect', () => process.exit(0));

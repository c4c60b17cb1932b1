/**
 * `npm run bench:redis-memory [-- --messages=1000 --connections=1000]`
 *
 * What our data costs in Redis (issue 15, "Data over months"): starts our
 * server in-process on a private redis-server and measures, as deltas of
 * `INFO memory` `used_memory` and per key class with `MEMORY USAGE`:
 *   - 1,000 messages of 100 characters sent through `sendMessage` in a
 *     two-member conversation (the message records, their indexes, and the
 *     resume history of their events, which lapses after RESUME_WINDOW_SECONDS);
 *   - 1,000 notifications of 100 characters sent through `sendNotification`;
 *   - 1,000 WebSocket connections, each with one `conversationEvents`
 *     subscription, held open (connection slots, presence).
 * Prints a table; the figures go into docs/performance.md.
 */
import { SignJWT } from 'jose';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { loadConfig } from '../src/config.js';
import { startServer } from '../src/server/app.js';
import { installCleanup } from './lib/children.js';
import { sleep } from './lib/clock.js';
import { postGraphql } from './lib/graphql-http.js';
import { startRedis } from './lib/redis-server.js';

const SECRET = 'bench-secret-that-is-long-enough-for-hs256!!';
const PREFIX = 'bench:';
const key = new TextEncoder().encode(SECRET);
const option = (name: string, fallback: number) =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const MESSAGES = option('messages', 1000);
const CONNECTIONS = option('connections', 1000);
const BODY = 'm'.repeat(100);

const sign = (sub: string, roles: string[] = ['agent']) =>
  new SignJWT({ org: 'org-bench', roles })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime('1h')
    .sign(key);

installCleanup();
const redisServer = await startRedis();
const redis = new Redis(redisServer.url);
const server = await startServer(
  loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    JWT_SECRET: SECRET,
    REDIS_URL: redisServer.url,
    REDIS_PREFIX: PREFIX,
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    RATE_LIMIT_PER_SECOND: '100000',
    RATE_LIMIT_BURST: '100000',
    MAX_CONNECTIONS_PER_USER: '100000',
    METRICS_PORT: '0',
  }),
);

const call = (token: string, query: string, variables?: Record<string, unknown>) =>
  postGraphql(`${server.url}/graphql`, token, query, variables);

async function usedMemory(): Promise<number> {
  await sleep(200);
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)![1]);
}

/** `MEMORY USAGE` of every key of ours, summed by class (the key with ids and user names cut off). */
async function byClass(): Promise<Map<string, { keys: number; bytes: number }>> {
  const classes = new Map<string, { keys: number; bytes: number }>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 1000);
    cursor = next;
    for (const name of keys) {
      const bytes = (await redis.memory('USAGE', name, 'SAMPLES', '0')) ?? 0;
      const parts = name.slice(PREFIX.length).split(':');
      const depth = parts[0] === 'doc' ? 2 : parts[0] === 'idx' ? 3 : 1;
      const kind = parts.slice(0, depth).join(':');
      const entry = classes.get(kind) ?? { keys: 0, bytes: 0 };
      entry.keys++;
      entry.bytes += Number(bytes);
      classes.set(kind, entry);
    }
  } while (cursor !== '0');
  return classes;
}

/** Runs `work`, then reports the growth of `used_memory` and of each key class, per `per` items. */
async function measure(label: string, per: number, work: () => Promise<void>) {
  const before = await byClass();
  const used = await usedMemory();
  await work();
  const grown = (await usedMemory()) - used;
  const after = await byClass();
  console.log(`\n${label}: used_memory +${(grown / 1024).toFixed(1)} KiB (${(grown / per).toFixed(0)} B each)`);
  for (const [kind, { keys, bytes }] of [...after].sort((a, b) => b[1].bytes - a[1].bytes)) {
    const delta = bytes - (before.get(kind)?.bytes ?? 0);
    const keyDelta = keys - (before.get(kind)?.keys ?? 0);
    if (delta > 0) {
      console.log(
        `  ${kind.padEnd(40)} +${String(keyDelta).padStart(5)} keys  ${(delta / 1024).toFixed(1).padStart(8)} KiB  ${(delta / per).toFixed(0).padStart(6)} B each`,
      );
    }
  }
  return grown;
}

const sockets: WebSocket[] = [];
try {
  const alice = await sign('alice');
  const bob = await sign('bob');
  const service = await sign('svc', ['service']);
  const room = (await call(alice, 'mutation { createConversation(memberIds: ["bob"]) { id } }')).createConversation
    .id as string;

  await measure(`${MESSAGES} messages of ${BODY.length} characters`, MESSAGES, async () => {
    for (let i = 0; i < MESSAGES; i++) {
      await call(
        i % 2 ? alice : bob,
        'mutation ($id: ID!, $b: String!) { sendMessage(conversationId: $id, body: $b) { id } }',
        {
          id: room,
          b: BODY,
        },
      );
    }
  });

  await measure(`${MESSAGES} notifications of ${BODY.length} characters`, MESSAGES, async () => {
    for (let i = 0; i < MESSAGES; i++) {
      await call(service, 'mutation ($input: SendNotificationInput!) { sendNotification(input: $input) { id } }', {
        input: { recipientId: `user-${i % 10}`, kind: 'bench', title: 'Bench', body: BODY },
      });
    }
  });

  const wsUrl = `${server.url.replace(/^http/, 'ws')}/graphql`;
  const subscription = 'subscription ($id: ID!) { conversationEvents(conversationId: $id) { __typename } }';
  await measure(`${CONNECTIONS} WebSocket connections, one subscription each`, CONNECTIONS, async () => {
    for (let i = 0; i < CONNECTIONS; i++) {
      const token = await sign(i % 2 ? 'alice' : 'bob');
      await new Promise<void>((resolve, reject) => {
        const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
        sockets.push(socket);
        socket.on('error', reject);
        socket.on('open', () =>
          socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })),
        );
        socket.on('message', (data) => {
          if ((JSON.parse(String(data)) as { type: string }).type !== 'connection_ack') return;
          socket.send(
            JSON.stringify({ id: '1', type: 'subscribe', payload: { query: subscription, variables: { id: room } } }),
          );
          resolve();
        });
      });
    }
    await sleep(1000);
  });
} finally {
  for (const socket of sockets) socket.terminate();
  await server.close();
  redis.disconnect();
  await redisServer.stop();
}

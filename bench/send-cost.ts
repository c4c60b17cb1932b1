/**
 * `npm run bench:send-cost [-- --sends=60]`
 *
 * Where a `sendMessage`'s time goes by room size (issue 15, "The write
 * path"), for a machine that is not idle: starts our server in-process on
 * a private redis-server and, for rooms of 10, 100, 1,000 and 10,000
 * members, times (p50 of `--sends` each, one at a time):
 *   - `sendMessage` over HTTP;
 *   - a `conversation(id)` query over HTTP (one Redis read: this machine's
 *     floor for a GraphQL request at that moment);
 *   - the store's part of a send alone, in-process: the read of the
 *     conversation and the append script (`ConversationStore`), and the
 *     size of the conversation's record (what the send reads and rewrites).
 * Prints a table; the figures go into docs/performance.md.
 */
import { SignJWT } from 'jose';
import { Redis } from 'ioredis';
import { loadConfig } from '../src/config.js';
import { createConversationStore } from '../src/conversations/store.js';
import type { MessageRecord } from '../src/conversations/model.js';
import { createRedisEventRecorder } from '../src/events/record-redis.js';
import { startServer } from '../src/server/app.js';
import { createRedisStorage } from '../src/storage/redis.js';
import { keySpace } from '../src/lib/keys.js';
import { installCleanup } from './lib/children.js';
import { postGraphql } from './lib/graphql-http.js';
import { startRedis } from './lib/redis-server.js';

const SECRET = 'bench-secret-that-is-long-enough-for-hs256!!';
const SENDS = Number(process.argv.find((a) => a.startsWith('--sends='))?.split('=')[1] ?? 60);
const SIZES = [10, 100, 1_000, 10_000];
const key = new TextEncoder().encode(SECRET);
const sign = (sub: string) =>
  new SignJWT({ org: 'org-bench', roles: ['agent'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime('1h')
    .sign(key);

installCleanup();
const redisServer = await startRedis();
const server = await startServer(
  loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    JWT_SECRET: SECRET,
    REDIS_URL: redisServer.url,
    REDIS_PREFIX: 'bench:',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    RATE_LIMIT_PER_SECOND: '100000',
    RATE_LIMIT_BURST: '100000',
    MAX_CONVERSATION_MEMBERS: '10000',
    METRICS_PORT: '0',
  }),
);
// The store on a connection and prefix of its own: the same scripts, no server around them.
const redis = new Redis(redisServer.url);
const keys = keySpace('store:', false);
const store = createConversationStore(createRedisStorage(redis, keys, createRedisEventRecorder(keys, 300_000)))(
  'org-bench',
);

const call = (token: string, query: string, variables?: Record<string, unknown>) =>
  postGraphql(`${server.url}/graphql`, token, query, variables);

/** p50 in ms of `SENDS` runs of `work`, one at a time. */
async function p50(work: (i: number) => Promise<unknown>) {
  const times: number[] = [];
  for (let i = 0; i < SENDS; i++) {
    const started = performance.now();
    await work(i);
    times.push(performance.now() - started);
  }
  return Number(times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!.toFixed(2));
}

const sender = await sign('bench-sender');
const rows: string[] = [];
for (const size of SIZES) {
  const memberIds = Array.from({ length: size - 1 }, (_, i) => `bench-member-${i}`);
  const { id } = (
    await call(sender, 'mutation ($m: [ID!]!) { createConversation(memberIds: $m) { id } }', { m: memberIds })
  ).createConversation as { id: string };
  const send = await p50((i) =>
    call(sender, 'mutation ($id: ID!, $b: String!) { sendMessage(conversationId: $id, body: $b) { id } }', {
      id,
      b: `message ${i}`,
    }),
  );
  const read = await p50(() => call(sender, 'query ($id: ID!) { conversation(id: $id) { id } }', { id }));

  const conversation = {
    id: `room-${size}`,
    orgId: 'org-bench',
    title: null,
    memberCount: size,
    membersVersion: 0,
    creatorId: 'bench-sender',
    createdAt: new Date().toISOString(),
    lastMessageId: null,
    lastMessageSeq: 0,
    lastActivityAt: new Date().toISOString(),
  };
  await store.create(conversation, ['bench-sender', ...memberIds], 1, []);
  let storeRead = 0;
  const storeSend = await p50(async (i) => {
    const started = performance.now();
    const current = (await store.conversations.get(conversation.id))!;
    storeRead += performance.now() - started;
    const message: MessageRecord = {
      id: `${conversation.id}-${i}`,
      orgId: 'org-bench',
      conversationId: conversation.id,
      seq: -1,
      senderId: 'bench-sender',
      body: `message ${i}`,
      status: 'QUEUED',
      reactions: [],
      clientMessageId: null,
      createdAt: new Date().toISOString(),
      editedAt: null,
      deleted: false,
    };
    await store.appendMessage(current, message, []);
  });
  const recordBytes = await redis.strlen(`${keys.org('org-bench')}doc:conversations:${conversation.id}`);
  rows.push(
    `| ${size.toLocaleString('en-US')} | ${send} ms | ${read} ms | ${storeSend} ms (read ${(storeRead / SENDS).toFixed(2)} ms mean) | ${recordBytes} B |`,
  );
}
console.log(`\n${SENDS} one at a time per size, p50\n`);
console.log(
  '| members | sendMessage over HTTP | conversation(id) over HTTP | store: read + append script | conversation record |',
);
console.log(
  '| ------- | --------------------- | -------------------------- | --------------------------- | ------------------- |',
);
for (const row of rows) console.log(row);
await server.close();
redis.disconnect();
await redisServer.stop();
process.exit(0);

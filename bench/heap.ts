/**
 * `node --expose-gc --import tsx bench/heap.ts [connections=3000] [--no-subscribe]`
 *
 * Where our server's memory per connection goes: starts the server
 * in-process on a private Redis, opens idle graphql-transport-ws connections
 * from a child process (each with one `sessionEvents` subscription unless
 * --no-subscribe), and diffs two heap snapshots taken after GC: heap per
 * connection, then self size per connection by object type.
 */
import { fork } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { writeHeapSnapshot } from 'node:v8';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { buildAll } from './lib/build.js';
import type * as HeapServer from './lib/heap-server.js';
import { installCleanup } from './lib/children.js';
import { sleep } from './lib/clock.js';
import { SUBSCRIPTION } from './lib/payload.js';
import { startRedis } from './lib/redis-server.js';

const SECRET = 'bench-secret-that-is-long-enough-for-hs256!!';
const key = new TextEncoder().encode(SECRET);
const sign = (sub: string) =>
  new SignJWT({ org: 'org-bench', roles: ['admin'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime('1h')
    .sign(key);

if (process.env.BENCH_HEAP_CLIENT) {
  // The client side: open the connections one after another, then hold them.
  const [url, sessionId, count, mode] = process.argv.slice(2) as [string, string, string, string];
  const sockets: WebSocket[] = [];
  for (let i = 0; i < Number(count); i++) {
    const token = await sign(`heap-user-${i}`);
    await new Promise<void>((resolve, reject) => {
      const socket = new WebSocket(url, 'graphql-transport-ws');
      sockets.push(socket);
      socket.on('error', reject);
      socket.on('open', () =>
        socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })),
      );
      socket.on('message', (data) => {
        if ((JSON.parse(String(data)) as { type: string }).type !== 'connection_ack') return;
        if (mode !== 'no-subscribe') {
          const payload = { query: SUBSCRIPTION, variables: { sessionId } };
          socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload }));
        }
        resolve();
      });
    });
  }
  process.send!('ready');
  process.on('disconnect', () => process.exit(0));
} else {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc --import tsx bench/heap.ts');
  // redis-server is killed however this process ends (a closed stdout pipe included).
  installCleanup();
  const count = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 3000);
  const subscribe = !process.argv.includes('--no-subscribe');
  // The server as the bench runs it (an esbuild bundle): tsx would add a `name` property to every closure.
  const { loadConfig, startServer } = (await import(
    pathToFileURL((await buildAll()).heapServer).href
  )) as typeof HeapServer;
  const redis = await startRedis();
  const server = await startServer(
    loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      JWT_SECRET: SECRET,
      REDIS_URL: redis.url,
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
    }),
  );
  const client = { kill: () => {} } as { kill: () => void };
  try {
    const response = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await sign('heap-owner')}` },
      body: JSON.stringify({ query: 'mutation { createSession(name: "heap") { id } }' }),
    });
    const sessionId = ((await response.json()) as { data: { createSession: { id: string } } }).data.createSession.id;

    await sleep(500);
    const before = snapshot(gc);
    const child = fork(
      fileURLToPath(import.meta.url),
      [`${server.url.replace('http', 'ws')}/graphql`, sessionId, String(count), subscribe ? '' : 'no-subscribe'],
      { execArgv: ['--import', 'tsx'], env: { ...process.env, BENCH_HEAP_CLIENT: '1' } },
    );
    client.kill = () => child.kill();
    await new Promise((resolve, reject) => {
      child.once('message', resolve);
      child.once('exit', (code) => reject(new Error(`client exited with ${code}`)));
    });
    await sleep(1500);
    const after = snapshot(gc);

    const per = (bytes: number) => (bytes / count).toFixed(0).padStart(7);
    process.stdout.write(
      `${count} connections${subscribe ? ', one subscription each' : ', no subscription'}: ` +
        `heap ${per(after.heapUsed - before.heapUsed).trim()} B per connection\n\n` +
        '   B/conn  objects/conn  type:name\n',
    );
    const rows = [...after.byType]
      .map(([type, [objects, bytes]]) => {
        const [objects0, bytes0] = before.byType.get(type) ?? [0, 0];
        return { type, objects: (objects - objects0) / count, bytes: bytes - bytes0 };
      })
      .sort((a, b) => b.bytes - a.bytes)
      .slice(0, 30);
    for (const row of rows) {
      process.stdout.write(`  ${per(row.bytes)}  ${row.objects.toFixed(2).padStart(12)}  ${row.type}\n`);
    }
  } finally {
    client.kill();
    await server.close();
    await redis.stop();
  }
}

/** Heap used after GC, and self size and count by object type, from a heap snapshot. */
function snapshot(gc: () => void) {
  gc();
  gc();
  const heapUsed = process.memoryUsage().heapUsed;
  const file = writeHeapSnapshot(join(tmpdir(), `bench-heap-${process.pid}-${Date.now()}.heapsnapshot`));
  const data = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  rmSync(file);
  const fields = data.snapshot.meta.node_fields;
  const types = data.snapshot.meta.node_types[0];
  const [iType, iName, iSize] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [number, number, number];
  const byType = new Map<string, [number, number]>();
  for (let i = 0; i < data.nodes.length; i += fields.length) {
    const type = types[data.nodes[i + iType]!]!;
    const named = type === 'object' || type === 'closure' || type === 'native' || type === 'synthetic';
    const key = named ? `${type}:${data.strings[data.nodes[i + iName]!]}` : type;
    const entry = byType.get(key) ?? [0, 0];
    entry[0]++;
    entry[1] += data.nodes[i + iSize]!;
    byType.set(key, entry);
  }
  return { heapUsed, byType };
}

import type { ChildProcess } from 'node:child_process';
import { Emitter } from '@socket.io/redis-emitter';
import { Cluster, Redis } from 'ioredis';
import { SignJWT } from 'jose';
import { createRedisEventRecorder, PUBLISH_EVENTS, publishScope } from '../../src/events/record-redis.js';
import { keySpace } from '../../src/lib/keys.js';
import { start, stop, waitForLine } from './children.js';
import { sleep } from './clock.js';
import { postGraphql } from './graphql-http.js';
import { type BenchEvent, SUBSCRIPTION } from './payload.js';
import type { ClientTarget } from './protocol.js';
import { freePort } from './redis-server.js';

export type TargetName =
  'ours' | 'ours-resume-off' | 'ours-metrics-off' | 'ours-cluster' | 'socketio' | 'graphql' | 'ws';

export interface RunContext {
  redisUrl: string;
  /** Seeds of the run's Redis Cluster, for the targets that run on one. */
  clusterNodes?: string[];
  secret: string;
  org: string;
  /**
   * Organisations our server's topics spread over (`<org>-0` …), session i
   * in organisation i mod `orgs`; one (`org`) when unset. On a cluster each
   * organisation is a slot of its own, so this is what spreads a run.
   */
  orgs?: number;
  /** The organisation of each topic our `prepare` made, for the clients' tokens and the publisher's channels. */
  topicOrgs?: Map<string, string>;
  /** Key/channel prefix of this target's run on the shared Redis. */
  prefix: string;
  /** `node` arguments for our server (e.g. --cpu-prof). */
  oursNodeArgs: string[];
  files: { ours: string; peer: (name: string) => string; orphanGuard: string };
  /** Run our server through the tsx loader instead of the compiled bundle. */
  tsx: boolean;
  /** More environment for our server (a phase's own settings). */
  oursEnv?: Record<string, string>;
}

export interface Instance {
  child: ChildProcess;
  pid: number;
  httpUrl: string;
  stop(): Promise<void>;
}

export interface Publisher {
  /**
   * Publishes through Redis the way a backend worker would, each event on
   * its topic (`sessionId`); resolves when Redis has them all.
   */
  publish(events: BenchEvent[]): Promise<void>;
  close(): Promise<void>;
}

export interface Target {
  name: TargetName;
  label: string;
  /** Runs on the run's Redis Cluster instead of its one Redis. */
  cluster?: boolean;
  start(ctx: RunContext): Promise<Instance>;
  /** Makes `count` things to subscribe to; returns their topics (session ids or rooms). */
  prepare(ctx: RunContext, instance: Instance, count: number): Promise<string[]>;
  client(ctx: RunContext, instances: Instance[], topics: string[]): ClientTarget;
  publisher(ctx: RunContext): Publisher;
}

function childEnv(ctx: RunContext, port: number, extra: Record<string, string> = {}) {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    REDIS_URL: ctx.redisUrl,
    JWT_SECRET: ctx.secret,
    BENCH_PORT: String(port),
    BENCH_PREFIX: ctx.prefix,
    NODE_ENV: 'production',
    ...extra,
  };
}

/**
 * `graceMs`: how long a stopped instance may take to exit before it is killed; a profiled one
 * (--cpu-prof writes its profile on exit) gets long enough to close thousands of sockets.
 */
function instanceOf(child: ChildProcess, port: number, graceMs = 8000): Instance {
  child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(`[pid ${child.pid}] ${chunk}`));
  return { child, pid: child.pid!, httpUrl: `http://127.0.0.1:${port}`, stop: () => stop(child, graceMs) };
}

async function startPeer(ctx: RunContext, name: string): Promise<Instance> {
  const port = await freePort();
  const child = start(process.execPath, [ctx.files.peer(name)], {
    env: childEnv(ctx, port),
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  await waitForLine(child, /^ready/, 15_000, name);
  child.stdout?.resume();
  return instanceOf(child, port);
}

function redisPublisher(ctx: RunContext, channel: (topic: string) => string): Publisher {
  const redis = new Redis(ctx.redisUrl);
  return {
    async publish(events) {
      const pipeline = redis.pipeline();
      for (const event of events) pipeline.publish(channel(event.sessionId), JSON.stringify(event));
      await pipeline.exec();
    },
    async close() {
      redis.disconnect();
    },
  };
}

/** Subscribers speaking graphql-transport-ws to `/graphql` (ours and the plain GraphQL stack). */
const graphqlWsClient: Target['client'] = (ctx, instances, topics) => ({
  kind: 'graphql-transport-ws',
  urls: instances.map((i) => `${i.httpUrl.replace('http', 'ws')}/graphql`),
  secret: ctx.secret,
  org: ctx.org,
  topics,
  orgs: ctx.topicOrgs && topics.map((topic) => ctx.topicOrgs!.get(topic) ?? ctx.org),
  query: SUBSCRIPTION,
});

/** Publishes on session channels as src/events/topics.ts names them: prefix + topic, JSON payload. */
const sessionChannelPublisher: Target['publisher'] = (ctx) =>
  redisPublisher(ctx, (topic) => `${ctx.prefix}org:${ctx.org}:session:${topic}`);

/**
 * Publishes on session channels as our services do (RECORD_EVENTS: history
 * and offsets while resume is on; on a cluster, SPUBLISH under the
 * organisation's hash tag, the script routed by its epoch's key).
 */
function recordingPublisher(ctx: RunContext, resumeWindowSeconds: number, cluster = false): Publisher {
  const redis = cluster ? new Cluster(ctx.clusterNodes!.map(seedOf)) : new Redis(ctx.redisUrl);
  const record = createRedisEventRecorder(keySpace(ctx.prefix, cluster), resumeWindowSeconds * 1000, {
    sharded: cluster,
  });
  return {
    async publish(events) {
      // A pipeline per organisation: on a cluster a pipeline's keys must share a slot, and each organisation is one.
      const byOrg = new Map<string, BenchEvent[]>();
      for (const event of events) {
        const org = ctx.topicOrgs?.get(event.sessionId) ?? ctx.org;
        byOrg.set(org, [...(byOrg.get(org) ?? []), event]);
      }
      await Promise.all(
        [...byOrg].map(async ([org, own]) => {
          const pipeline = redis.pipeline();
          for (const event of own) {
            const recorded = [{ channel: `org:${org}:session:${event.sessionId}`, payload: event }];
            const args = record(recorded, publishScope(recorded));
            pipeline.eval(PUBLISH_EVENTS, 1, args[2]!, ...args);
          }
          await pipeline.exec();
        }),
      );
    },
    async close() {
      redis.disconnect();
    },
  };
}

/** How often the bench scrapes our server's /metrics: far more often than Prometheus (15-60 s), an upper bound of its cost. */
const SCRAPE_EVERY_MS = 1000;

/** Scrapes `/metrics` every {@link SCRAPE_EVERY_MS} until the instance stops. */
function scraped(instance: Instance, metricsPort: number): Instance {
  const scraper = setInterval(() => {
    void fetch(`http://127.0.0.1:${metricsPort}/metrics`)
      .then((response) => response.arrayBuffer())
      .catch(() => undefined);
  }, SCRAPE_EVERY_MS);
  scraper.unref();
  return {
    ...instance,
    stop: () => {
      clearInterval(scraper);
      return instance.stop();
    },
  };
}

/**
 * Our server, with resume on (the default window) or off
 * (RESUME_WINDOW_SECONDS=0), its events published alike; with its metrics
 * listener scraped every {@link SCRAPE_EVERY_MS}, or with `METRICS_PORT=0`
 * (what metrics cost, measured in the same run).
 */
const oursWith = (
  name: TargetName,
  label: string,
  {
    resumeWindowSeconds = 300,
    metrics = true,
    cluster = false,
  }: { resumeWindowSeconds?: number; metrics?: boolean; cluster?: boolean } = {},
): Target => ({
  name,
  label,
  cluster,
  async start(ctx) {
    const port = await freePort();
    const metricsPort = metrics ? await freePort() : 0;
    const args = ctx.tsx
      ? [...ctx.oursNodeArgs, '--import', 'tsx', '--import', ctx.files.orphanGuard, 'src/main.ts']
      : [...ctx.oursNodeArgs, '--import', ctx.files.orphanGuard, ctx.files.ours];
    const child = start(process.execPath, args, {
      env: childEnv(ctx, port, {
        PORT: String(port),
        HOST: '127.0.0.1',
        REDIS_PREFIX: ctx.prefix,
        LOG_LEVEL: 'warn',
        RESUME_WINDOW_SECONDS: String(resumeWindowSeconds),
        METRICS_PORT: String(metricsPort),
        // Rooms up to the largest size the send phase measures.
        MAX_CONVERSATION_MEMBERS: '10000',
        ...(cluster ? { REDIS_URL: '', REDIS_CLUSTER_NODES: ctx.clusterNodes!.join(',') } : {}),
        ...ctx.oursEnv,
      }),
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    child.stdout?.resume();
    const instance = instanceOf(child, port, ctx.oursNodeArgs.includes('--cpu-prof') ? 60_000 : 8000);
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`our server exited with ${child.exitCode}`);
      const healthy = await fetch(`${instance.httpUrl}/health`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (healthy) return metrics ? scraped(instance, metricsPort) : instance;
      if (Date.now() > deadline) throw new Error('our server was not healthy within 20 s');
      await sleep(100);
    }
  },
  async prepare(ctx, instance, count) {
    // The sessions subscribers watch, created over the public API, each by its own owner
    // (one user creating hundreds would meet the per-user rate limit).
    const key = new TextEncoder().encode(ctx.secret);
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const org = ctx.orgs && ctx.orgs > 1 ? `${ctx.org}-${i % ctx.orgs}` : ctx.org;
      const token = await new SignJWT({ org, roles: ['agent'], name: `bench owner ${i}` })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(`bench-owner-${i}`)
        .setExpirationTime('3h')
        .sign(key);
      const data = await postGraphql(
        `${instance.httpUrl}/graphql`,
        token,
        `mutation { createSession(name: "bench ${i}") { id } }`,
      );
      const id = (data.createSession as { id: string }).id;
      ids.push(id);
      ctx.topicOrgs?.set(id, org);
    }
    return ids;
  },
  client: graphqlWsClient,
  publisher: (ctx) => recordingPublisher(ctx, resumeWindowSeconds, cluster),
});

const ours = oursWith('ours', 'ours');
const oursResumeOff = oursWith('ours-resume-off', 'ours, resume off', { resumeWindowSeconds: 0 });
const oursMetricsOff = oursWith('ours-metrics-off', 'ours (METRICS_PORT=0)', { metrics: false });
const oursCluster = oursWith('ours-cluster', 'ours on a 3-shard Redis Cluster', { cluster: true });

/** `host:port` as ioredis takes a cluster seed. */
function seedOf(node: string) {
  const [host, port] = node.split(':');
  return { host: host!, port: Number(port) };
}

const graphql: Target = {
  name: 'graphql',
  label: 'graphql-ws+redis-subs',
  start: (ctx) => startPeer(ctx, 'graphql-plain'),
  prepare: async (_ctx, _instance, count) => Array.from({ length: count }, (_, i) => `bench-session-${i}`),
  client: graphqlWsClient,
  publisher: sessionChannelPublisher,
};

const socketio: Target = {
  name: 'socketio',
  label: 'socket.io+redis-adapter',
  start: (ctx) => startPeer(ctx, 'socketio'),
  prepare: async (_ctx, _instance, count) => Array.from({ length: count }, (_, i) => `bench-room-${i}`),
  client: (ctx, instances, topics) => ({
    kind: 'socket.io',
    urls: instances.map((i) => i.httpUrl.replace('http', 'ws')),
    secret: ctx.secret,
    org: ctx.org,
    topics,
  }),
  publisher(ctx) {
    const redis = new Redis(ctx.redisUrl);
    const emitter = new Emitter(redis, { key: `${ctx.prefix}socket.io` });
    return {
      async publish(events) {
        for (const event of events) emitter.to(`conv:${event.sessionId}`).emit('event', event);
        await redis.ping(); // replies come in order: every publish before it has been handled
      },
      async close() {
        redis.disconnect();
      },
    };
  },
};

const ws: Target = {
  name: 'ws',
  label: 'ws floor',
  start: (ctx) => startPeer(ctx, 'ws-floor'),
  prepare: async (_ctx, _instance, count) => Array.from({ length: count }, (_, i) => `bench-room-${i}`),
  client: (ctx, instances, topics) => ({
    kind: 'ws',
    urls: instances.map((i) => i.httpUrl.replace('http', 'ws')),
    secret: ctx.secret,
    org: ctx.org,
    topics,
  }),
  publisher: (ctx) => redisPublisher(ctx, (topic) => `${ctx.prefix}room:${topic}`),
};

export const TARGETS: Record<TargetName, Target> = {
  ours,
  'ours-resume-off': oursResumeOff,
  'ours-metrics-off': oursMetricsOff,
  'ours-cluster': oursCluster,
  socketio,
  graphql,
  ws,
};

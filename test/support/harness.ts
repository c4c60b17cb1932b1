import { randomUUID } from 'node:crypto';
import { createClient, type Client, type ClientOptions } from 'graphql-ws';
import { afterEach, inject } from 'vitest';
import WebSocket from 'ws';
import { signDevelopmentToken, type TokenClaims } from '../../src/auth/jwt.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from '../../src/logger.js';
import { startServer, type RunningServer } from '../../src/server/app.js';

/** Which state and event backend a test server runs on: embedded, one Redis, or the run's Redis Cluster. */
export type Backend = 'memory' | 'redis' | 'cluster';
export const BACKENDS: Backend[] = ['memory', 'redis'];
/** The shared backends, for tests of what several instances do together. */
export const SHARED_BACKENDS = ['redis', 'cluster'] as const;

/** How a server (or worker, or publisher) reaches the run's Redis or Redis Cluster, as environment. */
export function redisEnv(backend: 'redis' | 'cluster', prefix: string): Record<string, string> {
  if (backend === 'redis') return { REDIS_URL: inject('redisUrl'), REDIS_PREFIX: prefix };
  const nodes = inject('redisClusterNodes');
  if (!nodes) throw new Error('No Redis Cluster in this run: install redis-server or set REDIS_CLUSTER_NODES');
  return { REDIS_CLUSTER_NODES: nodes.join(','), REDIS_PREFIX: prefix };
}

/** Shared by every test server of a run, so tokens minted once work on all instances. */
export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256!!';

/** Disposers run after each test, newest first: nothing outlives its test. */
const leftovers: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (leftovers.length > 0) await leftovers.pop()!();
});

/** Registers something for disposal after the current test. */
export function dispose(fn: () => Promise<unknown> | unknown) {
  leftovers.push(fn);
}

export interface TestServer {
  server: RunningServer;
  config: Config;
  url: string;
  graphqlUrl: string;
  wsUrl: string;
}

/**
 * A server of its own on port 0, disposed after the test. Redis servers of a
 * test share a fresh key prefix (pass the same `prefix` to make instances
 * that share state and events).
 */
export async function startTestServer(
  options: {
    backend?: Backend;
    prefix?: string;
    env?: Record<string, string>;
    logger?: Logger;
    /** Extra envelop plugins, as an embedding application would add (metrics, tracing). */
    plugins?: Plugin[];
  } = {},
): Promise<TestServer> {
  const { backend = 'memory', prefix, env = {}, logger, plugins } = options;
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    JWT_SECRET: TEST_JWT_SECRET,
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    // No background campaign worker or simulated gateway unless a test asks for one (env EMBEDDED_WORKER=on).
    EMBEDDED_WORKER: 'off',
    // Domain tests fire operations back to back; test/hardening sets its own limits.
    RATE_LIMIT_PER_SECOND: '100000',
    RATE_LIMIT_BURST: '100000',
    // No metrics listener unless a test asks for one (METRICS_PORT: a free port): servers do not race for 9464.
    METRICS_PORT: '0',
    ...(backend === 'memory' ? {} : redisEnv(backend, prefix ?? uniquePrefix())),
    ...env,
  });
  const server = await startServer(config, { ...(logger ? { logger } : {}), ...(plugins ? { plugins } : {}) });
  dispose(() => server.close());
  return {
    server,
    config,
    url: server.url,
    graphqlUrl: `${server.url}/graphql`,
    wsUrl: `${server.url.replace(/^http/, 'ws')}/graphql`,
  };
}

/** A Redis key prefix no other test uses. */
export function uniquePrefix(): string {
  return `test:${randomUUID().slice(0, 8)}:`;
}

/** Starts `count` instances on one Redis (or the Redis Cluster) with one key prefix: a cluster of servers. */
export async function startCluster(
  count: number,
  env: Record<string, string> = {},
  backend: 'redis' | 'cluster' = 'redis',
): Promise<TestServer[]> {
  const prefix = uniquePrefix();
  return Promise.all(Array.from({ length: count }, () => startTestServer({ backend, prefix, env })));
}

/** A user of the test organisation `org` (default `org-a`). */
export function user(sub: string, roles: TokenClaims['roles'] = ['agent'], org = 'org-a'): TokenClaims {
  return { sub, org, roles, name: sub };
}

/** A signed token for `claims`, valid for `expiresIn` (jose syntax or epoch seconds). */
export function tokenFor(claims: TokenClaims, expiresIn: string | number = '1h'): Promise<string> {
  return signDevelopmentToken(
    { key: { kind: 'secret', secret: TEST_JWT_SECRET }, issuer: undefined, audience: undefined },
    claims,
    expiresIn,
  );
}

/** A GraphQL response as a client sees it. */
export interface GraphQLResponse<Data = Record<string, unknown>> {
  status: number;
  data?: Data | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
}

/** POSTs an operation over HTTP, as Apollo Client or urql would. */
export async function gql<Data = Record<string, unknown>>(
  target: TestServer,
  query: string,
  variables: Record<string, unknown> = {},
  options: { token?: string; headers?: Record<string, string> } = {},
): Promise<GraphQLResponse<Data>> {
  const response = await fetch(target.graphqlUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as Omit<GraphQLResponse<Data>, 'status'>;
  return { status: response.status, ...body };
}

/** Like {@link gql}, but fails the test on any error and returns `data`. */
export async function ok<Data = Record<string, any>>(
  target: TestServer,
  query: string,
  variables: Record<string, unknown> = {},
  token?: string,
): Promise<Data> {
  const result = await gql<Data>(target, query, variables, { token });
  if (result.errors?.length) {
    throw new Error(`Unexpected errors: ${JSON.stringify(result.errors)}`);
  }
  return result.data as Data;
}

/** The first error's `extensions.code`. */
export function errorCode(result: GraphQLResponse<unknown>): unknown {
  return result.errors?.[0]?.extensions?.code;
}

/** A real graphql-ws client, connected with `token` and disposed after the test. */
export function wsClient(target: TestServer, token: string | undefined, options: Partial<ClientOptions> = {}): Client {
  const client = createClient({
    url: target.wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    retryAttempts: 0,
    lazy: true,
    ...options,
  });
  dispose(() => client.dispose());
  return client;
}

/** Runs a query or mutation over a graphql-ws client's socket and returns its one result, errors included. */
export async function wsOperation<Data = Record<string, any>>(
  client: Client,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<Omit<GraphQLResponse<Data>, 'status'>> {
  for await (const result of client.iterate<Data>({ query, variables })) {
    return result as Omit<GraphQLResponse<Data>, 'status'>;
  }
  throw new Error('The operation completed without a result');
}

/** What a subscription has received so far, and ways to wait for more. */
export interface Subscription<Event = any> {
  events: Event[];
  errors: unknown[];
  /** Resolves when the server completes the subscription. */
  completed: Promise<void>;
  isCompleted(): boolean;
  /** Waits until `count` events have arrived; returns them all. */
  waitForEvents(count: number, timeoutMs?: number): Promise<Event[]>;
  /** Waits for the first error the subscription receives. */
  waitForError(timeoutMs?: number): Promise<unknown>;
  stop(): void;
}

/**
 * Subscribes over WebSocket and collects what arrives (the value of the
 * subscription's single field). Resolves once the server counts the
 * subscription as live in `/health`, or it has failed or completed.
 */
export async function subscribeWs<Event = any>(
  target: TestServer,
  client: Client,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<Subscription<Event>> {
  const before = (await health(target)).body.subscriptions;
  const events: Event[] = [];
  const errors: unknown[] = [];
  let done = false;
  let onChange: () => void = () => {};
  let resolveCompleted!: () => void;
  const completed = new Promise<void>((resolve) => (resolveCompleted = resolve));
  const stop = client.subscribe<Record<string, Event>>(
    { query, variables },
    {
      next: (result) => {
        if (result.errors) errors.push(...result.errors);
        if (result.data) events.push(Object.values(result.data)[0] as Event);
        onChange();
      },
      error: (error) => {
        errors.push(error);
        done = true;
        resolveCompleted();
        onChange();
      },
      complete: () => {
        done = true;
        resolveCompleted();
        onChange();
      },
    },
  );
  dispose(stop);
  const waitUntil = <T>(check: () => T | undefined, timeoutMs: number, what: string) =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        onChange = () => {};
        reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what}; got ${JSON.stringify(events)}`));
      }, timeoutMs);
      onChange = () => {
        const value = check();
        if (value !== undefined) {
          clearTimeout(timer);
          onChange = () => {};
          resolve(value);
        }
      };
      onChange();
    });
  const subscription: Subscription<Event> = {
    events,
    errors,
    completed,
    isCompleted: () => done,
    waitForEvents: (count, timeoutMs = 5000) =>
      waitUntil(() => (events.length >= count ? events.slice() : undefined), timeoutMs, `${count} events`),
    waitForError: (timeoutMs = 5000) =>
      waitUntil(() => (errors.length > 0 ? errors[0] : undefined), timeoutMs, 'an error'),
    stop,
  };
  const deadline = Date.now() + 5000;
  while (!done && errors.length === 0 && (await health(target)).body.subscriptions <= before) {
    if (Date.now() > deadline) throw new Error('Subscription did not become live within 5 s');
    await settle(10);
  }
  return subscription;
}

/** Lets in-flight messages land. */
export function settle(ms = 50): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `GET /health` as a load balancer sees it. */
export async function health(target: TestServer) {
  const response = await fetch(`${target.url}/health`);
  return {
    status: response.status,
    body: (await response.json()) as {
      status: string;
      redis: string;
      connections: { websocket: number; sse: number };
      subscriptions: number;
    },
  };
}

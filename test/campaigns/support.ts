import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { expect, inject } from 'vitest';
import { simulatedGatewayLog, type SimulatedMessage } from '../../src/gateway/simulated.js';
import { createRedisStorage, type Storage } from '../../src/storage/index.js';
import { keySpace } from '../../src/lib/keys.js';
import { dispose, ok, redisEnv, tokenFor, user, type TestServer } from '../support/harness.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Quick settings for tests: a fast pace, short leases and polls, a snappy and reliable gateway. */
export const FAST: Record<string, string> = {
  CAMPAIGN_SEND_RATE: '4000',
  CAMPAIGN_BATCH_SIZE: '50',
  CAMPAIGN_LEASE_MS: '1000',
  CAMPAIGN_POLL_MS: '50',
  CAMPAIGN_RECEIPT_WAIT_MS: '10000',
  CAMPAIGN_PROGRESS_EVERY: '100',
  GATEWAY_LATENCY_MS: '4',
  GATEWAY_FAILURE_RATE: '0',
  GATEWAY_ERROR_RATE: '0',
};

/** The same, with the campaign worker running inside the server. */
export const EMBEDDED: Record<string, string> = { ...FAST, EMBEDDED_WORKER: 'on' };

export const CAMPAIGN_FIELDS =
  'id name sessionId message status total sent delivered failed lastError createdBy createdAt updatedAt startedAt finishedAt';

export const EVENTS = `subscription ($campaignId: ID!) {
  campaignEvents(campaignId: $campaignId) {
    __typename
    ... on Event { occurredAt }
    ... on CampaignStarted { campaignId }
    ... on CampaignProgress { campaignId sent delivered failed total }
    ... on CampaignPaused { campaignId reason }
    ... on CampaignResumed { campaignId }
    ... on CampaignCompleted { campaignId }
    ... on CampaignFailed { campaignId error }
    ... on CampaignCancelled { campaignId }
  }
}`;

export async function tokens() {
  return {
    agent: await tokenFor(user('agent-1', ['agent'])),
    otherAgent: await tokenFor(user('agent-2', ['agent'])),
    admin: await tokenFor(user('admin-1', ['admin'])),
    service: await tokenFor(user('svc-1', ['service'])),
    foreignAdmin: await tokenFor(user('admin-x', ['admin'], 'org-b')),
  };
}
export type Tokens = Awaited<ReturnType<typeof tokens>>;

/** `count` distinct phone numbers. */
export function phoneNumbers(count: number, offset = 0): string[] {
  return Array.from({ length: count }, (_, i) => `+4917${String(offset + i).padStart(9, '0')}`);
}

/** A session of `owner`, reported `CONNECTED` by a service, ready to send campaigns. */
export async function connectedSession(server: TestServer, t: Tokens, owner = t.agent): Promise<string> {
  const created = await ok(server, 'mutation { createSession(name: "Campaign phone") { id } }', {}, owner);
  const sessionId = created.createSession.id as string;
  await ok(
    server,
    'mutation ($input: SessionStatusReport!) { reportSessionStatus(input: $input) { status } }',
    { input: { sessionId, status: 'CONNECTED', phoneNumber: '+15550100000' } },
    t.service,
  );
  return sessionId;
}

export async function createCampaign(
  server: TestServer,
  token: string,
  input: { sessionId: string; recipients: string[]; name?: string; message?: string },
) {
  const data = await ok(
    server,
    `mutation ($input: CreateCampaignInput!) { createCampaign(input: $input) { ${CAMPAIGN_FIELDS} } }`,
    { input: { name: 'Spring sale', message: 'Hello from the campaign', ...input } },
    token,
  );
  return data.createCampaign as Record<string, any> & { id: string };
}

/** Runs a status mutation (`startCampaign`, …) and returns the campaign. */
export async function act(server: TestServer, token: string, mutation: string, id: string) {
  const data = await ok(server, `mutation ($id: ID!) { ${mutation}(id: $id) { ${CAMPAIGN_FIELDS} } }`, { id }, token);
  return data[mutation] as Record<string, any>;
}

export async function readCampaign(server: TestServer, token: string, id: string) {
  const data = await ok(server, `query ($id: ID!) { campaign(id: $id) { ${CAMPAIGN_FIELDS} } }`, { id }, token);
  return data.campaign as Record<string, any>;
}

/** A storage on the test servers' Redis and key prefix, to read the simulated gateway's log (on a cluster, the server's own). */
export function redisStorageFor(server: TestServer): Storage {
  if (server.config.redisClusterNodes) return server.server.runtime.storage;
  const redis = new Redis(inject('redisUrl'));
  dispose(() => redis.quit());
  return createRedisStorage(redis, keySpace(server.config.redisPrefix, false));
}

/** The simulated gateway's storage: the server's own (memory) or one on its Redis. */
export function gatewayStorage(server: TestServer): Storage {
  return server.config.redisUrl || server.config.redisClusterNodes
    ? redisStorageFor(server)
    : server.server.runtime.storage;
}

/**
 * Checks the simulated network's log: every recipient got exactly one
 * message of this campaign, and nobody else got one. Returns the log.
 */
export async function expectEachRecipientOnce(
  storage: Storage,
  sessionId: string,
  campaignId: string,
  recipients: string[],
): Promise<SimulatedMessage[]> {
  const log = (await simulatedGatewayLog(storage, sessionId)).filter((message) =>
    message.id.startsWith(`campaign:${campaignId}:`),
  );
  const perRecipient = new Map<string, number>();
  for (const message of log) perRecipient.set(message.to, (perRecipient.get(message.to) ?? 0) + 1);
  const twice = [...perRecipient].filter(([, count]) => count > 1);
  expect(twice, 'recipients transmitted to more than once').toEqual([]);
  expect([...perRecipient.keys()].sort()).toEqual([...recipients].sort());
  return log;
}

/** Waits until `check` holds, polling; fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A worker process (`tsx src/worker/main.ts`) and what it logged. */
export interface WorkerProcess {
  pid: number;
  /** Its log, one parsed JSON object per line. */
  logs: Record<string, any>[];
  /** Resolves with the exit code (or signal) once it has exited. */
  exited: Promise<number | string>;
  kill(signal: NodeJS.Signals): void;
}

/**
 * Starts a worker process on the test Redis (or Redis Cluster) with the
 * given key prefix; resolves once it logged that it started. Killed after the test.
 */
export async function startWorkerProcess(
  prefix: string,
  env: Record<string, string> = {},
  backend: 'redis' | 'cluster' = 'redis',
): Promise<WorkerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/worker/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      ...redisEnv(backend, prefix),
      METRICS_PORT: '0',
      ...FAST,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, any>[] = [];
  let stderr = '';
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  dispose(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  let buffered = '';
  const started = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        try {
          const entry = JSON.parse(line) as Record<string, any>;
          logs.push(entry);
          if (entry.msg === 'worker started') resolve();
        } catch {
          // Not a log line.
        }
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    void exited.then((code) => reject(new Error(`worker exited (${code}) before starting: ${stderr}`)));
  });
  const timeout = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await started.finally(() => clearTimeout(timeout));
  return { pid: child.pid!, logs, exited, kill: (signal) => child.kill(signal) };
}

import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { commandStreamKey } from '../../src/events/commands.js';
import { keySpace } from '../../src/lib/keys.js';
import { topics } from '../../src/events/topics.js';
import { createLogger } from '../../src/logger.js';
import { startWorker } from '../../src/worker/worker.js';
import { SESSION_EVENTS } from '../hardening/fixtures.js';
import { startRedisProxy } from '../support/redis-proxy.js';
import {
  dispose,
  ok,
  settle,
  startCluster,
  startTestServer,
  subscribeWs,
  wsClient,
  type Subscription,
  type TestServer,
} from '../support/harness.js';
import {
  act,
  connectedSession,
  createCampaign,
  eventually,
  phoneNumbers,
  readCampaign,
  startWorkerProcess,
  tokens,
} from './support.js';

/*
 * Internal commands (a gateway command of connectSession, a campaign
 * wake-up) wait for a worker: one made while no worker listens is handled
 * by a worker that comes later, and one a worker read but never finished
 * (it died) is taken over by another.
 */

/** A login the simulated gateway completes quickly: a QR code at once, "scanned" 300 ms later. */
const QUICK_LOGIN = { GATEWAY_QR_INTERVAL_MS: '60000', GATEWAY_SCAN_DELAY_MS: '300' };

async function createSession(server: TestServer, token: string): Promise<string> {
  return (await ok(server, 'mutation { createSession(name: "Phone") { id } }', {}, token)).createSession.id as string;
}

async function connectSession(server: TestServer, token: string, id: string): Promise<string> {
  return (await ok(server, 'mutation ($id: ID!) { connectSession(id: $id) { status } }', { id }, token)).connectSession
    .status as string;
}

/** Waits until the subscriber saw the gateway show a QR code, then report the session connected. */
async function expectLoggedIn(watcher: Subscription, timeoutMs = 15_000) {
  await eventually(
    async () => watcher.events.some((e) => e.__typename === 'SessionStatusChanged' && e.status === 'CONNECTED'),
    timeoutMs,
  ).catch((error: unknown) => {
    throw new Error(`the session never logged in: ${JSON.stringify(watcher.events)}`, { cause: error });
  });
  const kinds = watcher.events.map((e) => (e.__typename === 'SessionStatusChanged' ? e.status : e.__typename));
  expect(kinds).toContain('QrCodeUpdated');
  expect(kinds.indexOf('QrCodeUpdated')).toBeLessThan(kinds.indexOf('CONNECTED'));
  expect(watcher.errors).toEqual([]);
}

function rawRedis(): Redis {
  const redis = new Redis(inject('redisUrl'));
  dispose(() => redis.quit());
  return redis;
}

describe('durable internal commands', () => {
  it('connectSession made while no worker runs: a worker started later logs the session in', async () => {
    const [a] = (await startCluster(1, QUICK_LOGIN)) as [TestServer];
    const t = await tokens();
    const sessionId = await createSession(a, t.agent);
    const watcher = await subscribeWs(a, wsClient(a, t.agent), SESSION_EVENTS, { sessionId });
    expect(await connectSession(a, t.agent, sessionId)).toBe('CONNECTING');
    await settle(300);
    expect(watcher.events.map((e) => e.__typename)).not.toContain('QrCodeUpdated');

    await startWorkerProcess(a.config.redisPrefix, QUICK_LOGIN);
    await expectLoggedIn(watcher);
  });

  it('a command whose wake-up was lost is still handled: workers sweep the organisations’ streams', async () => {
    const [a] = (await startCluster(1, QUICK_LOGIN)) as [TestServer];
    const t = await tokens();
    const redis = rawRedis();
    const sessionId = await createSession(a, t.agent);
    const watcher = await subscribeWs(a, wsClient(a, t.agent), SESSION_EVENTS, { sessionId });
    expect(await connectSession(a, t.agent, sessionId)).toBe('CONNECTING');
    // The command is on org-a's stream (written with the session); its wake-up on the deployment's stream is dropped.
    const keys = keySpace(a.config.redisPrefix, false);
    const channel = topics.gatewayCommands();
    expect(await redis.xlen(commandStreamKey(keys.org('org-a'), channel))).toBe(1);
    expect(await redis.del(commandStreamKey(keys.deployment, channel))).toBe(1);

    await startWorkerProcess(a.config.redisPrefix, QUICK_LOGIN);
    await expectLoggedIn(watcher);
  });

  it('on the embedded engine too: a command queued before the worker starts is handled when it does', async () => {
    const server = await startTestServer({ env: QUICK_LOGIN });
    const t = await tokens();
    const sessionId = await createSession(server, t.agent);
    const watcher = await subscribeWs(server, wsClient(server, t.agent), SESSION_EVENTS, { sessionId });
    expect(await connectSession(server, t.agent, sessionId)).toBe('CONNECTING');
    await settle(100);

    const worker = await startWorker({
      config: server.config,
      ...server.server.runtime,
      logger: createLogger('silent'),
    });
    dispose(() => worker.stop());
    await expectLoggedIn(watcher);
  });

  it('a worker killed after reading a command, before acknowledging it: another worker takes the command over', async () => {
    const [a] = (await startCluster(1, QUICK_LOGIN)) as [TestServer];
    const t = await tokens();
    const redis = rawRedis();
    // The deployment's stream: the session's write queues its command on its organisation's stream and
    // wakes a consumer here; the frozen worker holds that wake-up, so no one reads the command until it is taken over.
    const stream = commandStreamKey(a.config.redisPrefix, topics.gatewayCommands());
    // A long claim time: this worker spends nearly all its time blocked on its read, where Redis hands it the command.
    const doomed = await startWorkerProcess(a.config.redisPrefix, { ...QUICK_LOGIN, COMMAND_CLAIM_IDLE_MS: '600000' });
    await settle(300);
    const sessionId = await createSession(a, t.agent);
    const watcher = await subscribeWs(a, wsClient(a, t.agent), SESSION_EVENTS, { sessionId });

    // Frozen: Redis still delivers the command to its blocked read, but the worker never handles it.
    doomed.kill('SIGSTOP');
    expect(await connectSession(a, t.agent, sessionId)).toBe('CONNECTING');
    const [count, , , holders] = await eventually(async () => {
      const pending = (await redis.xpending(stream, 'workers')) as [number, string, string, [string, string][]];
      return pending[0] > 0 && pending;
    });
    expect(count).toBe(1);
    expect(holders).toHaveLength(1);
    doomed.kill('SIGKILL');
    await doomed.exited;
    await settle(300);
    expect(watcher.events.map((e) => e.__typename)).not.toContain('QrCodeUpdated');

    const heir = await startWorkerProcess(a.config.redisPrefix, { ...QUICK_LOGIN, COMMAND_CLAIM_IDLE_MS: '1000' });
    await expectLoggedIn(watcher);
    expect(heir.logs.some((entry) => entry.msg === 'taking over unacknowledged commands')).toBe(true);
    await eventually(async () => ((await redis.xpending(stream, 'workers')) as [number])[0] === 0);
  });

  it('a campaign started while its worker is cut off from Redis is picked up once it is back, not at the next poll', async () => {
    const [a] = (await startCluster(1)) as [TestServer];
    const t = await tokens();
    const proxy = await startRedisProxy({ port: Number(new URL(inject('redisUrl')).port) });
    dispose(() => proxy.close());
    const sessionId = await connectedSession(a, t);
    const campaign = await createCampaign(a, t.agent, { sessionId, recipients: phoneNumbers(20) });
    // Polls once a minute: only the wake-up of startCampaign can start it within the test.
    const worker = await startWorkerProcess(a.config.redisPrefix, { REDIS_URL: proxy.url, CAMPAIGN_POLL_MS: '60000' });
    await settle(300);

    proxy.cut();
    await act(a, t.agent, 'startCampaign', campaign.id);
    await settle(300);
    proxy.restore();

    await eventually(async () => (await readCampaign(a, t.agent, campaign.id)).status === 'COMPLETED', 20_000);
    expect(worker.logs.some((entry) => entry.msg === 'running campaign' && entry.campaignId === campaign.id)).toBe(
      true,
    );
  });
});

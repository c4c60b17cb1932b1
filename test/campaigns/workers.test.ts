import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { campaignLeaseKey } from '../../src/worker/runner.js';
import { CLAIMED } from '../../src/storage/index.js';
import {
  ok,
  settle,
  SHARED_BACKENDS,
  startCluster,
  subscribeWs,
  wsClient,
  type TestServer,
} from '../support/harness.js';
import {
  act,
  connectedSession,
  createCampaign,
  eventually,
  EVENTS,
  expectEachRecipientOnce,
  FAST,
  phoneNumbers,
  readCampaign,
  redisStorageFor,
  startWorkerProcess as startWorker,
  tokens,
} from './support.js';

describe.each(SHARED_BACKENDS)(
  'campaign workers as processes of their own (%s)',
  (backend) => {
    /** Two server instances on one Redis (or the cluster), no worker inside them: campaigns run only in worker processes. */
    async function cluster(): Promise<[TestServer, TestServer]> {
      const [a, b] = await startCluster(2, FAST, backend);
      return [a!, b!];
    }
    const startWorkerProcess = (prefix: string, env: Record<string, string> = {}) => startWorker(prefix, env, backend);

    it('a dashboard on another instance sees a 1000-recipient campaign start, progress, pause, resume and complete', async () => {
      const [a, b] = await cluster();
      const worker = await startWorkerProcess(a.config.redisPrefix, { CAMPAIGN_SEND_RATE: '2000' });
      const t = await tokens();
      const sessionId = await connectedSession(a, t);
      const recipients = phoneNumbers(1000);
      const campaign = await createCampaign(a, t.agent, { sessionId, recipients });
      const dashboard = await subscribeWs(b, wsClient(b, t.otherAgent), EVENTS, { campaignId: campaign.id });

      await act(a, t.agent, 'startCampaign', campaign.id);
      await eventually(async () => dashboard.events.some((e) => e.__typename === 'CampaignProgress' && e.sent >= 200));
      const paused = await act(b, t.agent, 'pauseCampaign', campaign.id);
      await settle(300);
      const whilePaused = await readCampaign(a, t.agent, campaign.id);
      expect(whilePaused.status).toBe('PAUSED');
      expect(whilePaused.sent).toBeLessThanOrEqual(paused.sent + 50);
      expect(whilePaused.sent).toBeLessThan(1000);
      await act(a, t.agent, 'resumeCampaign', campaign.id);
      await dashboard.completed;

      const kinds = dashboard.events.map((e) => e.__typename).filter((kind) => kind !== 'CampaignProgress');
      expect(kinds).toEqual(['CampaignStarted', 'CampaignPaused', 'CampaignResumed', 'CampaignCompleted']);
      const progress = dashboard.events.filter((e) => e.__typename === 'CampaignProgress');
      let previous = 0;
      for (const event of progress) {
        expect(event.sent - previous).toBeLessThanOrEqual(100);
        previous = Math.max(previous, event.sent);
      }
      expect(dashboard.events.at(-2)).toMatchObject({ sent: 1000, delivered: 1000, failed: 0, total: 1000 });
      expect(await readCampaign(b, t.agent, campaign.id)).toMatchObject({
        status: 'COMPLETED',
        sent: 1000,
        delivered: 1000,
      });
      const log = await expectEachRecipientOnce(redisStorageFor(a), sessionId, campaign.id, recipients);
      expect(log.filter((message) => message.attempts !== 1)).toEqual([]);
      expect(worker.logs.some((entry) => entry.msg === 'running campaign' && entry.campaignId === campaign.id)).toBe(
        true,
      );
    });

    it('two workers on one campaign: one runs it, the other takes over when it stops, nobody is sent to twice', async () => {
      const [a] = await cluster();
      const env = { CAMPAIGN_SEND_RATE: '1000' };
      const workers = await Promise.all([
        startWorkerProcess(a.config.redisPrefix, env),
        startWorkerProcess(a.config.redisPrefix, env),
      ]);
      const t = await tokens();
      const sessionId = await connectedSession(a, t);
      const recipients = phoneNumbers(800);
      const campaign = await createCampaign(a, t.agent, { sessionId, recipients });
      const storage = redisStorageFor(a);
      await act(a, t.agent, 'startCampaign', campaign.id);
      await eventually(async () => (await readCampaign(a, t.agent, campaign.id)).sent >= 200);

      // Exactly one worker holds the campaign; stop it politely mid-campaign.
      const holder = await storage.peek(campaignLeaseKey(campaign.id));
      const running = workers.filter((w) => w.logs.some((e) => e.msg === 'running campaign' && e.run === holder));
      expect(running).toHaveLength(1);
      const [first] = running;
      const second = workers.find((w) => w !== first)!;
      first!.kill('SIGTERM');
      expect(await first!.exited).toBe(0);
      await eventually(async () => (await readCampaign(a, t.agent, campaign.id)).status === 'COMPLETED');

      const done = await readCampaign(a, t.agent, campaign.id);
      expect(done).toMatchObject({ sent: 800, delivered: 800, failed: 0 });
      expect(second.logs.some((e) => e.msg === 'running campaign' && e.campaignId === campaign.id)).toBe(true);
      // A polite hand-over hands back what was not sent: nothing is left to resend.
      expect(second.logs.some((e) => e.orphans)).toBe(false);
      const log = await expectEachRecipientOnce(storage, sessionId, campaign.id, recipients);
      expect(log.filter((message) => message.attempts !== 1)).toEqual([]);
    });

    it('a worker killed mid-batch: its lease lapses, another takes over, nobody is skipped or sent to twice', async () => {
      const [a] = await cluster();
      const env = { CAMPAIGN_SEND_RATE: '400', CAMPAIGN_BATCH_SIZE: '40', GATEWAY_LATENCY_MS: '15' };
      const victim = await startWorkerProcess(a.config.redisPrefix, env);
      const t = await tokens();
      const sessionId = await connectedSession(a, t);
      const recipients = phoneNumbers(600);
      const campaign = await createCampaign(a, t.agent, { sessionId, recipients });
      const dashboard = await subscribeWs(a, wsClient(a, t.agent), EVENTS, { campaignId: campaign.id });
      const storage = redisStorageFor(a);
      const ledger = storage.forOrg('org-a').ledger(`campaign:${campaign.id}`);
      await act(a, t.agent, 'startCampaign', campaign.id);
      await eventually(async () => (await readCampaign(a, t.agent, campaign.id)).sent >= 150);

      // Freeze it, and kill it only while it holds recipients it claimed (more than it can have in
      // flight, about latency x rate): mid-batch for sure, with some claimed recipients not sent yet.
      for (;;) {
        victim.kill('SIGSTOP');
        if (((await ledger.counts())[CLAIMED] ?? 0) >= 10) break;
        victim.kill('SIGCONT');
        await settle(5);
      }
      const claimedAtKill = (await ledger.counts())[CLAIMED]!;
      victim.kill('SIGKILL');
      expect(await victim.exited).toBe('SIGKILL');
      const sentAtKill = (await readCampaign(a, t.agent, campaign.id)).sent;
      expect(sentAtKill).toBeLessThan(600);

      const successor = await startWorkerProcess(a.config.redisPrefix, env);
      await dashboard.completed;
      expect(dashboard.events.at(-1).__typename).toBe('CampaignCompleted');
      // It resent what the victim held (less any that a receipt showed had gone out), under the same ids.
      const takeover = successor.logs.find((e) => e.orphans);
      expect(takeover?.orphans).toBeGreaterThan(0);
      expect(takeover?.orphans).toBeLessThanOrEqual(claimedAtKill);
      expect(await readCampaign(a, t.agent, campaign.id)).toMatchObject({
        status: 'COMPLETED',
        sent: 600,
        delivered: 600,
        failed: 0,
      });
      const log = await expectEachRecipientOnce(storage, sessionId, campaign.id, recipients);
      // Only recipients in flight at the kill may have been attempted twice (and dropped by the gateway).
      const retried = log.filter((message) => message.attempts > 1);
      expect(retried.length).toBeLessThanOrEqual(claimedAtKill);
      expect(retried.every((message) => message.attempts === 2)).toBe(true);
    });

    it('a gateway that times out, even after taking a message, gets each message once', async () => {
      const [a] = await cluster();
      await startWorkerProcess(a.config.redisPrefix, { GATEWAY_ERROR_RATE: '0.3', CAMPAIGN_SEND_RATE: '2000' });
      const t = await tokens();
      const sessionId = await connectedSession(a, t);
      const recipients = phoneNumbers(300);
      const campaign = await createCampaign(a, t.agent, { sessionId, recipients });
      const dashboard = await subscribeWs(a, wsClient(a, t.agent), EVENTS, { campaignId: campaign.id });
      await act(a, t.agent, 'startCampaign', campaign.id);
      await dashboard.completed;
      expect(dashboard.events.at(-1).__typename).toBe('CampaignCompleted');
      expect(await readCampaign(a, t.agent, campaign.id)).toMatchObject({ sent: 300, delivered: 300, failed: 0 });
      const log = await expectEachRecipientOnce(redisStorageFor(a), sessionId, campaign.id, recipients);
      // Resends happened (timeouts after the gateway took the message) and were dropped as duplicates.
      expect(log.filter((message) => message.attempts > 1).length).toBeGreaterThan(0);
    });

    it('a worker refuses to start without REDIS_URL', async () => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/worker/main.ts'], {
        cwd: new URL('../../', import.meta.url),
        env: { PATH: process.env.PATH, NODE_ENV: 'test' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await new Promise((resolve) => child.once('exit', resolve));
      expect(code).toBe(1);
      expect(stderr).toMatch(/^Configuration error: REDIS_URL \(or REDIS_CLUSTER_NODES\) must be set/);
    });

    it('sessions: a simulated gateway worker shows QR codes, then connects, as one driver among several workers', async () => {
      const [a, b] = await cluster();
      const env = { GATEWAY_QR_INTERVAL_MS: '250', GATEWAY_SCAN_DELAY_MS: '900' };
      await Promise.all([startWorkerProcess(a.config.redisPrefix, env), startWorkerProcess(a.config.redisPrefix, env)]);
      const t = await tokens();
      const created = await ok(a, 'mutation { createSession(name: "Phone") { id } }', {}, t.agent);
      const sessionId = created.createSession.id as string;
      const events = await subscribeWs(b, wsClient(b, t.agent), SESSION_EVENTS, { sessionId });
      await ok(a, 'mutation ($id: ID!) { connectSession(id: $id) { status } }', { id: sessionId }, t.agent);
      const connected = await eventually(async () => {
        const index = events.events.findIndex((e) => e.status === 'CONNECTED');
        return index >= 0 && events.events.slice(0, index + 1);
      });
      const qrCodes = connected.filter((e) => e.__typename === 'QrCodeUpdated').map((e) => e.qrCode);
      // One at once, then one per interval until the scan: one driver, not one per worker.
      expect(qrCodes.length).toBeGreaterThanOrEqual(2);
      expect(qrCodes.length).toBeLessThanOrEqual(5);
      expect(new Set(qrCodes).size).toBe(qrCodes.length);
      expect(connected[0]).toMatchObject({ __typename: 'SessionStatusChanged', status: 'CONNECTING' });
      expect(connected[1]).toMatchObject({ __typename: 'SessionStatusChanged', status: 'QR_REQUIRED' });
      expect(connected.at(-1)).toMatchObject({ status: 'CONNECTED', displayName: 'Simulated phone' });
      expect(connected.at(-1).phoneNumber).toMatch(/^\+155501\d{6}$/);
      await settle(600);
      expect(events.events.slice(connected.length)).toEqual([]);
      const session = await ok(
        a,
        'query ($id: ID!) { session(id: $id) { status qrCode } }',
        { id: sessionId },
        t.agent,
      );
      expect(session.session).toEqual({ status: 'CONNECTED', qrCode: null });
    });
  },
  60_000,
); // workers are child processes, and the cluster adds a hop: slower on a loaded machine

const SESSION_EVENTS = `subscription ($sessionId: ID!) {
  sessionEvents(sessionId: $sessionId) {
    __typename
    ... on QrCodeUpdated { sessionId qrCode }
    ... on SessionStatusChanged { sessionId status phoneNumber displayName }
    ... on SessionDeleted { sessionId }
  }
}`;

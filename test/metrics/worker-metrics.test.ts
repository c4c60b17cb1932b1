import { describe, expect, it } from 'vitest';
import {
  act,
  connectedSession,
  createCampaign,
  EMBEDDED,
  FAST,
  phoneNumbers,
  readCampaign,
  startWorkerProcess,
  tokens,
} from '../campaigns/support.js';
import { startTestServer, uniquePrefix } from '../support/harness.js';
import { expectSample, metricsOn, scrape } from './scrape.js';

/*
 * Campaign workers count what they send and the receipts they hear, on the
 * metrics listener of the process they run in: a worker process
 * (`npm run worker`) serves its own METRICS_PORT; the embedded worker
 * counts on its server's.
 */

describe('worker metrics', () => {
  it('a worker process serves its own /metrics: campaign sends and receipts, bus and Redis, process metrics', async () => {
    const prefix = uniquePrefix();
    const server = await startTestServer({ backend: 'redis', prefix, env: { ...FAST, ...(await metricsOn()) } });
    const env = await metricsOn();
    const worker = await startWorkerProcess(prefix, env);
    const url = `http://127.0.0.1:${env.METRICS_PORT}/metrics`;
    expect(worker.logs).toContainEqual(expect.objectContaining({ msg: 'metrics listening', url }));

    const t = await tokens();
    const sessionId = await connectedSession(server, t);
    const recipients = phoneNumbers(30);
    const campaign = await createCampaign(server, t.agent, { sessionId, recipients });
    await act(server, t.agent, 'startCampaign', campaign.id);

    await expectSample(url, 'realtime_graphql_campaign_sends_total', { outcome: 'accepted' }, 30);
    await expect
      .poll(
        async () => (await scrape(url)).value('realtime_graphql_campaign_receipts_total', { status: 'DELIVERED' }),
        {
          timeout: 15_000,
        },
      )
      .toBeGreaterThan(0);
    await expect
      .poll(async () => (await readCampaign(server, t.agent, campaign.id)).status, { timeout: 15_000 })
      .toBe('COMPLETED');
    const metrics = await scrape(url);
    expect(metrics.value('realtime_graphql_campaign_sends_total', { outcome: 'refused' })).toBe(0);
    expect(metrics.value('realtime_graphql_bus_events_received_total')).toBeGreaterThan(0);
    expect(metrics.value('realtime_graphql_redis_ping_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(metrics.types.has('process_cpu_seconds_total')).toBe(true);
    // A worker has no transports: no connection metrics.
    expect(metrics.types.has('realtime_graphql_connections')).toBe(false);
    // The server ran no worker and sent nothing.
    expect((await scrape(server.server.metricsUrl)).types.has('realtime_graphql_campaign_sends_total')).toBe(false);
  });

  it('the embedded worker counts on its server’s listener', async () => {
    const server = await startTestServer({ env: { ...EMBEDDED, ...(await metricsOn()) } });
    const t = await tokens();
    const sessionId = await connectedSession(server, t);
    const campaign = await createCampaign(server, t.agent, { sessionId, recipients: phoneNumbers(5) });
    await act(server, t.agent, 'startCampaign', campaign.id);
    await expectSample(server.server.metricsUrl, 'realtime_graphql_campaign_sends_total', { outcome: 'accepted' }, 5);
  });
});

import { describe, expect, it } from 'vitest';
import { simulatedGatewayLog } from '../../src/gateway/simulated.js';
import { campaignLeaseKey } from '../../src/worker/runner.js';
import {
  BACKENDS,
  errorCode,
  gql,
  ok,
  settle,
  startTestServer,
  subscribeWs,
  uniquePrefix,
  wsClient,
} from '../support/harness.js';
import {
  act,
  CAMPAIGN_FIELDS,
  connectedSession,
  createCampaign,
  EMBEDDED,
  eventually,
  EVENTS,
  expectEachRecipientOnce,
  gatewayStorage,
  phoneNumbers,
  readCampaign,
  redisStorageFor,
  tokens,
} from './support.js';

const CREATE = `mutation ($input: CreateCampaignInput!) { createCampaign(input: $input) { ${CAMPAIGN_FIELDS} } }`;

/** `sent + refused` never jumps by more than `every` between consecutive progress events (no refusals here: `sent`). */
function expectCadence(progress: { sent: number }[], every: number) {
  let previous = 0;
  for (const event of progress) {
    expect(event.sent - previous).toBeLessThanOrEqual(every);
    previous = Math.max(previous, event.sent);
  }
}

describe.each(BACKENDS)('campaigns on the %s backend', (backend) => {
  it('creates a draft, and every member of the organisation reads and lists it', async () => {
    const server = await startTestServer({ backend });
    const t = await tokens();
    const sessionId = await connectedSession(server, t);
    const recipients = [
      '+49 170 1234567',
      '004917012345 67',
      '+49-170-(123)-4567',
      'ana@S.WhatsApp.Net',
      'ana@s.whatsapp.net',
    ];
    const campaign = await createCampaign(server, t.agent, { sessionId, recipients, name: '  Spring sale ' });
    expect(campaign).toMatchObject({
      name: 'Spring sale',
      sessionId,
      message: 'Hello from the campaign',
      status: 'DRAFT',
      total: 2,
      sent: 0,
      delivered: 0,
      failed: 0,
      lastError: null,
      createdBy: 'agent-1',
      startedAt: null,
      finishedAt: null,
    });
    expect(new Date(campaign.createdAt).toISOString()).toBe(campaign.createdAt);

    for (const token of [t.otherAgent, t.admin, t.service]) {
      expect(await readCampaign(server, token, campaign.id)).toEqual(campaign);
    }
    const second = await createCampaign(server, t.admin, { sessionId, recipients: ['+15550100001'] });
    const third = await createCampaign(server, t.agent, { sessionId, recipients: ['+15550100002'] });
    const all = await ok(server, '{ campaigns { id } }', {}, t.service);
    expect(all.campaigns).toEqual([{ id: third.id }, { id: second.id }, { id: campaign.id }]);
    const page = await ok(
      server,
      'query ($before: ID) { campaigns(limit: 1, before: $before) { id } }',
      { before: third.id },
      t.otherAgent,
    );
    expect(page.campaigns).toEqual([{ id: second.id }]);
    const foreign = await ok(server, '{ campaigns { id } }', {}, t.foreignAdmin);
    expect(foreign.campaigns).toEqual([]);
  });

  it('reports another organisation\u2019s campaign exactly as a missing one, and enforces roles', async () => {
    const server = await startTestServer({ backend });
    const t = await tokens();
    const sessionId = await connectedSession(server, t);
    const campaign = await createCampaign(server, t.agent, { sessionId, recipients: phoneNumbers(3) });
    const query = 'query ($id: ID!) { campaign(id: $id) { id } }';
    const missing = await gql(server, query, { id: 'no-such-campaign' }, { token: t.admin });
    const foreign = await gql(server, query, { id: campaign.id }, { token: t.foreignAdmin });
    expect(errorCode(foreign)).toBe('NOT_FOUND');
    expect(foreign.errors![0]!.message).toBe(missing.errors![0]!.message.replace('no-such-campaign', campaign.id));
    for (const mutation of ['startCampaign', 'pauseCampaign', 'resumeCampaign', 'cancelCampaign']) {
      const result = await gql(server, `mutation ($id: ID!) { ${mutation}(id: $id) { id } }`, campaign, {
        token: t.foreignAdmin,
      });
      expect(errorCode(result)).toBe('NOT_FOUND');
    }
    const foreignEvents = await subscribeWs(server, wsClient(server, t.foreignAdmin), EVENTS, {
      campaignId: campaign.id,
    });
    expect(JSON.stringify(await foreignEvents.waitForError())).toContain('NOT_FOUND');

    // Changing needs admin or agent: a service may read, not change.
    for (const [mutation, variables] of [
      [CREATE, { input: { name: 'x', sessionId, message: 'm', recipients: ['+15550100001'] } }],
      ['mutation ($id: ID!) { startCampaign(id: $id) { id } }', campaign],
      ['mutation ($id: ID!) { cancelCampaign(id: $id) { id } }', campaign],
    ] as const) {
      expect(errorCode(await gql(server, mutation, variables, { token: t.service }))).toBe('FORBIDDEN');
    }
    // The session must be one the creator may see: another agent's is missing to them, not to an admin.
    const input = { name: 'x', sessionId, message: 'm', recipients: ['+15550100001'] };
    expect(errorCode(await gql(server, CREATE, { input }, { token: t.otherAgent }))).toBe('NOT_FOUND');
    expect(errorCode(await gql(server, CREATE, { input: { ...input, sessionId: 'nope' } }, { token: t.admin }))).toBe(
      'NOT_FOUND',
    );
    expect(errorCode(await gql(server, CREATE, { input }, { token: t.foreignAdmin }))).toBe('NOT_FOUND');
    await ok(server, CREATE, { input }, t.admin);
    // Any agent of the organisation may change a campaign, not only its creator.
    expect((await act(server, t.otherAgent, 'cancelCampaign', campaign.id)).status).toBe('CANCELLED');
  });

  it('starts and resumes only on a session the caller may see; one they may not reads as missing, without its status', async () => {
    const server = await startTestServer({ backend });
    const t = await tokens();
    const mutate = (token: string, mutation: string, id: string) =>
      gql(server, `mutation ($id: ID!) { ${mutation}(id: $id) { id status } }`, { id }, { token });
    const ownersSession = await connectedSession(server, t);
    const campaign = await createCampaign(server, t.agent, { sessionId: ownersSession, recipients: phoneNumbers(2) });
    // A deleted session, for the answer a missing one gets.
    const doomedSession = await connectedSession(server, t);
    const orphan = await createCampaign(server, t.agent, { sessionId: doomedSession, recipients: phoneNumbers(2) });
    await ok(server, 'mutation ($id: ID!) { deleteSession(id: $id) }', { id: doomedSession }, t.agent);
    const missing = await mutate(t.agent, 'startCampaign', orphan.id);
    expect(errorCode(missing)).toBe('NOT_FOUND');

    const expectAsMissing = (result: Awaited<ReturnType<typeof mutate>>) => {
      expect(errorCode(result)).toBe('NOT_FOUND');
      expect(result.data ?? null).toBeNull();
      expect(result.errors![0]!.message).toBe(missing.errors![0]!.message.replace(doomedSession, ownersSession));
      expect(JSON.stringify(result.errors)).not.toMatch(/CONNECTED|DISCONNECTED|CONNECTING|QR_REQUIRED|ERROR/);
    };
    // Another agent of the organisation may not see agent-1's session: not while connected, not after.
    expectAsMissing(await mutate(t.otherAgent, 'startCampaign', campaign.id));
    await ok(server, 'mutation ($id: ID!) { disconnectSession(id: $id) { id } }', { id: ownersSession }, t.agent);
    expectAsMissing(await mutate(t.otherAgent, 'startCampaign', campaign.id));
    expect((await readCampaign(server, t.agent, campaign.id)).status).toBe('DRAFT');
    // Its owner and an admin see it, and are told why it cannot start.
    for (const token of [t.agent, t.admin]) {
      const refused = await mutate(token, 'startCampaign', campaign.id);
      expect(errorCode(refused)).toBe('BAD_USER_INPUT');
      expect(refused.errors![0]!.message).toMatch(/session is DISCONNECTED: connect it first/);
    }
    await ok(
      server,
      'mutation ($input: SessionStatusReport!) { reportSessionStatus(input: $input) { status } }',
      { input: { sessionId: ownersSession, status: 'CONNECTED' } },
      t.service,
    );
    expectAsMissing(await mutate(t.otherAgent, 'startCampaign', campaign.id));
    expect((await act(server, t.admin, 'startCampaign', campaign.id)).status).toBe('RUNNING');

    // Pausing needs no session; resuming does, and reads the same way.
    expect((await act(server, t.otherAgent, 'pauseCampaign', campaign.id)).status).toBe('PAUSED');
    expectAsMissing(await mutate(t.otherAgent, 'resumeCampaign', campaign.id));
    expect((await readCampaign(server, t.agent, campaign.id)).status).toBe('PAUSED');
    expect((await act(server, t.agent, 'resumeCampaign', campaign.id)).status).toBe('RUNNING');
  });

  it('answers bad values and impossible status changes with BAD_USER_INPUT', async () => {
    // Room for a list past the recipient limit (the default HTTP body limit is 1 MiB).
    const server = await startTestServer({ backend });
    const t = await tokens();
    const sessionId = await connectedSession(server, t);
    const valid = { name: 'Sale', sessionId, message: 'Hi', recipients: ['+15550100001'] };
    const cases: [Record<string, unknown>, string][] = [
      [{ name: '  ' }, 'name'],
      [{ name: 'n'.repeat(201) }, 'name'],
      [{ message: '' }, 'message'],
      [{ message: 'm'.repeat(4097) }, 'message'],
      [{ recipients: [] }, 'recipients'],
      [{ recipients: ['+15550100001', 'call me maybe'] }, 'recipients'],
      [{ recipients: ['12345'] }, 'recipients'],
      [{ recipients: ['+1234567890123456'] }, 'recipients'],
      [{ recipients: ['a@b@c'] }, 'recipients'],
      [{ recipients: phoneNumbers(100_001) }, 'recipients'],
      [{ sessionId: 'has space' }, 'sessionId'],
    ];
    for (const [change, field] of cases) {
      const result = await gql(server, CREATE, { input: { ...valid, ...change } }, { token: t.agent });
      expect(errorCode(result), JSON.stringify(change).slice(0, 80)).toBe('BAD_USER_INPUT');
      expect(result.errors![0]!.extensions!.field).toBe(field);
    }
    const badRecipient = await gql(
      server,
      CREATE,
      { input: { ...valid, recipients: ['+15550100001', 'nope'] } },
      { token: t.agent },
    );
    expect(badRecipient.errors![0]!.message).toContain('recipients[1]');
    const badLimit = await gql(server, '{ campaigns(limit: 0) { id } }', {}, { token: t.agent });
    expect(errorCode(badLimit)).toBe('BAD_USER_INPUT');

    // The limit itself is fine.
    const largest = await createCampaign(server, t.agent, { ...valid, recipients: phoneNumbers(100_000) });
    expect(largest.total).toBe(100_000);

    const campaign = await createCampaign(server, t.agent, valid);
    const expectRefused = async (mutation: string, message: RegExp) => {
      const result = await gql(server, `mutation ($id: ID!) { ${mutation}(id: $id) { id } }`, campaign, {
        token: t.agent,
      });
      expect(errorCode(result)).toBe('BAD_USER_INPUT');
      expect(result.errors![0]!.message).toMatch(message);
    };
    await expectRefused('pauseCampaign', /is DRAFT: only a RUNNING campaign can be paused/);
    await expectRefused('resumeCampaign', /is DRAFT: only a PAUSED campaign can be resumed/);
    // A campaign only starts on a connected session.
    await ok(server, 'mutation ($id: ID!) { disconnectSession(id: $id) { id } }', { id: sessionId }, t.agent);
    await expectRefused('startCampaign', /session is DISCONNECTED: connect it first/);
    expect((await readCampaign(server, t.agent, campaign.id)).status).toBe('DRAFT');
    await act(server, t.agent, 'cancelCampaign', campaign.id);
    await expectRefused('startCampaign', /is CANCELLED: only a DRAFT campaign can be started/);
    await expectRefused('resumeCampaign', /is CANCELLED/);
    await expectRefused('cancelCampaign', /is CANCELLED: only a DRAFT or RUNNING or PAUSED campaign can be cancelled/);
  });

  it('runs a 1000-recipient campaign through pause and resume: a dashboard sees it all, every recipient gets it once', async () => {
    const server = await startTestServer({ backend, env: { ...EMBEDDED, CAMPAIGN_SEND_RATE: '2000' } });
    const t = await tokens();
    const sessionId = await connectedSession(server, t);
    const recipients = phoneNumbers(1000);
    const campaign = await createCampaign(server, t.agent, { sessionId, recipients });
    const dashboard = await subscribeWs(server, wsClient(server, t.otherAgent), EVENTS, { campaignId: campaign.id });

    const started = await act(server, t.agent, 'startCampaign', campaign.id);
    expect(started).toMatchObject({ status: 'RUNNING', total: 1000 });
    expect(started.startedAt).not.toBeNull();
    await eventually(async () => dashboard.events.some((e) => e.__typename === 'CampaignProgress' && e.sent >= 200));
    const paused = await act(server, t.admin, 'pauseCampaign', campaign.id);
    expect(paused.status).toBe('PAUSED');
    expect(paused.sent).toBeLessThan(1000);
    // Sending stops within one batch (50 here), and stays stopped.
    await eventually(async () => dashboard.events.some((e) => e.__typename === 'CampaignPaused'));
    await settle(300);
    const whilePaused = await readCampaign(server, t.agent, campaign.id);
    expect(whilePaused.sent).toBeLessThanOrEqual(paused.sent + 50);
    await settle(200);
    expect((await readCampaign(server, t.agent, campaign.id)).sent).toBe(whilePaused.sent);

    expect((await act(server, t.agent, 'resumeCampaign', campaign.id)).status).toBe('RUNNING');
    await dashboard.completed;
    const events = dashboard.events;
    const kinds = events.map((e) => e.__typename).filter((kind) => kind !== 'CampaignProgress');
    expect(kinds).toEqual(['CampaignStarted', 'CampaignPaused', 'CampaignResumed', 'CampaignCompleted']);
    expect(events.every((e) => e.campaignId === campaign.id && !Number.isNaN(Date.parse(e.occurredAt)))).toBe(true);
    expect(events.find((e) => e.__typename === 'CampaignPaused').reason).toBeNull();
    const progress = events.filter((e) => e.__typename === 'CampaignProgress');
    expectCadence(progress, 100);
    // The last event before completion is the final count, every recipient accounted for.
    expect(events.at(-2)).toMatchObject({
      __typename: 'CampaignProgress',
      sent: 1000,
      delivered: 1000,
      failed: 0,
      total: 1000,
    });

    const done = await readCampaign(server, t.agent, campaign.id);
    expect(done).toMatchObject({ status: 'COMPLETED', total: 1000, sent: 1000, delivered: 1000, failed: 0 });
    expect(Date.parse(done.finishedAt)).toBeGreaterThanOrEqual(Date.parse(done.startedAt));
    const log = await expectEachRecipientOnce(gatewayStorage(server), sessionId, campaign.id, recipients);
    // Without crashes or timeouts, nothing was even attempted twice.
    expect(log.filter((message) => message.attempts !== 1)).toEqual([]);
    expect(log.every((message) => message.body === 'Hello from the campaign')).toBe(true);

    for (const mutation of ['resumeCampaign', 'pauseCampaign', 'startCampaign']) {
      const result = await gql(server, `mutation ($id: ID!) { ${mutation}(id: $id) { id } }`, campaign, {
        token: t.agent,
      });
      expect(errorCode(result)).toBe('BAD_USER_INPUT');
      expect(result.errors![0]!.message).toContain('is COMPLETED');
    }
    // Subscribing to a campaign that has ended completes at once.
    const late = await subscribeWs(server, wsClient(server, t.agent), EVENTS, { campaignId: campaign.id });
    await late.completed;
    expect(late.events).toEqual([]);
  });

  it('counts delivered and failed from the gateway\u2019s receipts', async () => {
    const server = await startTestServer({ backend, env: { ...EMBEDDED, GATEWAY_FAILURE_RATE: '0.3' } });
    const t = await tokens();
    const sessionId = await connectedSession(server, t);
    const recipients = phoneNumbers(300);
    const campaign = await createCampaign(server, t.agent, { sessionId, recipients });
    const dashboard = await subscribeWs(server, wsClient(server, t.agent), EVENTS, { campaignId: campaign.id });
    await act(server, t.agent, 'startCampaign', campaign.id);
    await dashboard.completed;

    // What the gateway reported, message by message, is what the counts say.
    const storage = gatewayStorage(server);
    const log = await eventually(async () => {
      const entries = await expectEachRecipientOnce(storage, sessionId, campaign.id, recipients);
      return entries.every((m) => m.outcome.status === 'refused' || m.reported.some((r) => r !== 'SENT')) && entries;
    });
    const refused = log.filter((m) => m.outcome.status === 'refused').length;
    const failedReceipts = log.filter((m) => m.reported.includes('FAILED')).length;
    const delivered = log.filter((m) => m.reported.includes('DELIVERED')).length;
    expect(refused).toBeGreaterThan(0);
    expect(failedReceipts).toBeGreaterThan(0);
    expect(refused + failedReceipts + delivered).toBe(300);
    const expected = { sent: 300 - refused, failed: refused + failedReceipts, delivered };
    expect(await readCampaign(server, t.agent, campaign.id)).toMatchObject({ status: 'COMPLETED', ...expected });
    expect(dashboard.events.at(-2)).toMatchObject({ __typename: 'CampaignProgress', ...expected, total: 300 });
  });

  it('throttles sending to CAMPAIGN_SEND_RATE per session, across the campaigns sharing it', async () => {
    const server = await startTestServer({ backend, env: { ...EMBEDDED, CAMPAIGN_SEND_RATE: '200' } });
    const t = await tokens();
    const sessionId = await connectedSession(server, t);
    const campaigns = [
      await createCampaign(server, t.agent, { sessionId, recipients: phoneNumbers(100) }),
      await createCampaign(server, t.agent, { sessionId, recipients: phoneNumbers(100, 100) }),
    ];
    const startedAt = Date.now();
    for (const campaign of campaigns) await act(server, t.agent, 'startCampaign', campaign.id);
    await eventually(async () => {
      const states = await Promise.all(campaigns.map((c) => readCampaign(server, t.agent, c.id)));
      return states.every((state) => state.status === 'COMPLETED');
    });
    // 200 messages at 200 per second: the last may not go before about 1 s (the first goes at once).
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(950);
    const log = await simulatedGatewayLog(gatewayStorage(server), sessionId);
    const times = log.map((message) => Date.parse(message.acceptedAt)).sort((a, b) => a - b);
    expect(times).toHaveLength(200);
    expect(times.at(-1)! - startedAt).toBeGreaterThanOrEqual(950);
  });

  it('cancels for good, and ends subscriptions with CampaignCancelled', async () => {
    const server = await startTestServer({ backend, env: { ...EMBEDDED, CAMPAIGN_SEND_RATE: '500' } });
    const t = await tokens();
    const sessionId = await connectedSession(server, t);
    const recipients = phoneNumbers(500);
    const campaign = await createCampaign(server, t.agent, { sessionId, recipients });
    const dashboard = await subscribeWs(server, wsClient(server, t.agent), EVENTS, { campaignId: campaign.id });
    await act(server, t.agent, 'startCampaign', campaign.id);
    await eventually(async () => (await readCampaign(server, t.agent, campaign.id)).sent >= 100);
    const cancelled = await act(server, t.agent, 'cancelCampaign', campaign.id);
    expect(cancelled.status).toBe('CANCELLED');
    expect(cancelled.finishedAt).not.toBeNull();
    await dashboard.completed;
    expect(dashboard.events.at(-1)).toMatchObject({ __typename: 'CampaignCancelled', campaignId: campaign.id });
    await settle(300);
    const after = await readCampaign(server, t.agent, campaign.id);
    expect(after.status).toBe('CANCELLED');
    expect(after.sent).toBeLessThanOrEqual(cancelled.sent + 50);
    expect(after.sent).toBeLessThan(500);
    await settle(200);
    expect((await readCampaign(server, t.agent, campaign.id)).sent).toBe(after.sent);
  });

  it('pauses by itself when the session disconnects, says why, and resumes without sending twice', async () => {
    const server = await startTestServer({ backend, env: { ...EMBEDDED, CAMPAIGN_SEND_RATE: '500' } });
    const t = await tokens();
    const sessionId = await connectedSession(server, t);
    const recipients = phoneNumbers(400);
    const campaign = await createCampaign(server, t.agent, { sessionId, recipients });
    const dashboard = await subscribeWs(server, wsClient(server, t.agent), EVENTS, { campaignId: campaign.id });
    await act(server, t.agent, 'startCampaign', campaign.id);
    await eventually(async () => (await readCampaign(server, t.agent, campaign.id)).sent >= 50);
    const report = 'mutation ($input: SessionStatusReport!) { reportSessionStatus(input: $input) { status } }';
    await ok(server, report, { input: { sessionId, status: 'RECONNECTING' } }, t.service);
    const paused = await eventually(async () => dashboard.events.find((e) => e.__typename === 'CampaignPaused'));
    // Every member reads the reason; the session's status is only for those who may see the session.
    expect(paused.reason).toMatch(/session stopped being connected/);
    expect(paused.reason).not.toMatch(/RECONNECTING/);
    const stored = await readCampaign(server, t.agent, campaign.id);
    expect(stored).toMatchObject({ status: 'PAUSED', lastError: paused.reason });
    const refused = await gql(server, 'mutation ($id: ID!) { resumeCampaign(id: $id) { id } }', campaign, {
      token: t.agent,
    });
    expect(refused.errors![0]!.message).toMatch(/session is RECONNECTING: connect it first/);

    await ok(server, report, { input: { sessionId, status: 'CONNECTED' } }, t.service);
    expect(await act(server, t.agent, 'resumeCampaign', campaign.id)).toMatchObject({
      status: 'RUNNING',
      lastError: null,
    });
    await dashboard.completed;
    expect(dashboard.events.at(-1).__typename).toBe('CampaignCompleted');
    expect(await readCampaign(server, t.agent, campaign.id)).toMatchObject({ status: 'COMPLETED', sent: 400 });
    await expectEachRecipientOnce(gatewayStorage(server), sessionId, campaign.id, recipients);
  });

  it('fails when its session is deleted', async () => {
    const server = await startTestServer({ backend, env: { ...EMBEDDED, CAMPAIGN_SEND_RATE: '500' } });
    const t = await tokens();
    const sessionId = await connectedSession(server, t);
    const campaign = await createCampaign(server, t.agent, { sessionId, recipients: phoneNumbers(400) });
    const dashboard = await subscribeWs(server, wsClient(server, t.agent), EVENTS, { campaignId: campaign.id });
    await act(server, t.agent, 'startCampaign', campaign.id);
    await eventually(async () => (await readCampaign(server, t.agent, campaign.id)).sent >= 50);
    await ok(server, 'mutation ($id: ID!) { deleteSession(id: $id) }', { id: sessionId }, t.agent);
    await dashboard.completed;
    const failed = dashboard.events.at(-1);
    expect(failed).toMatchObject({ __typename: 'CampaignFailed', campaignId: campaign.id });
    expect(failed.error).toMatch(/session was deleted/);
    const stored = await readCampaign(server, t.agent, campaign.id);
    expect(stored).toMatchObject({ status: 'FAILED', lastError: failed.error });
    expect(stored.sent).toBeLessThan(400);
  });
});

describe('the worker inside the server', () => {
  it('stops with the server, hands its campaign back at once, and another instance finishes it', async () => {
    const prefix = uniquePrefix();
    const env = { ...EMBEDDED, CAMPAIGN_SEND_RATE: '500', CAMPAIGN_LEASE_MS: '60000', CAMPAIGN_POLL_MS: '60000' };
    const first = await startTestServer({ backend: 'redis', prefix, env });
    const t = await tokens();
    const sessionId = await connectedSession(first, t);
    const recipients = phoneNumbers(400);
    const campaign = await createCampaign(first, t.agent, { sessionId, recipients });
    const storage = redisStorageFor(first);
    await act(first, t.agent, 'startCampaign', campaign.id);
    await eventually(async () => (await readCampaign(first, t.agent, campaign.id)).sent >= 100);

    await first.server.close();
    // Released, not left to lapse (the lease would last a minute here).
    expect(await storage.peek(campaignLeaseKey(campaign.id))).toBeUndefined();
    const second = await startTestServer({ backend: 'redis', prefix, env: { ...env, CAMPAIGN_POLL_MS: '50' } });
    const stopped = await readCampaign(second, t.agent, campaign.id);
    expect(stopped.status).toBe('RUNNING');
    expect(stopped.sent).toBeLessThan(400);
    await eventually(async () => (await readCampaign(second, t.agent, campaign.id)).status === 'COMPLETED');
    expect(await readCampaign(second, t.agent, campaign.id)).toMatchObject({ sent: 400, delivered: 400 });
    const log = await expectEachRecipientOnce(storage, sessionId, campaign.id, recipients);
    expect(log.filter((message) => message.attempts !== 1)).toEqual([]);
  });
});

import { keySpace } from '../../src/lib/keys.js';
import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import {
  BACKENDS,
  dispose,
  errorCode,
  gql,
  ok,
  settle,
  startTestServer,
  tokenFor,
  user,
  type TestServer,
} from '../support/harness.js';
import { simulatedGatewayLog } from '../../src/gateway/simulated.js';
import {
  act,
  connectedSession,
  createCampaign,
  EMBEDDED,
  eventually,
  gatewayStorage,
  phoneNumbers,
  readCampaign,
  tokens as campaignTokens,
} from '../campaigns/support.js';
import { CONVERSATION, createConversation, history, MARK_READ, send as sendMessage } from '../conversations/support.js';
import { COUNT, list, MARK_READ as MARK_NOTIFICATION_READ, send } from '../notifications/operations.js';

/** Long enough past a 1 s retention for the records to be gone, on a loaded machine too. */
const PAST_RETENTION_MS = 1_600;

/** Where organisation `org-a`'s keys are on the server's Redis (see `keySpace`). */
const orgPrefix = (server: TestServer) => keySpace(server.config.redisPrefix, false).org('org-a');

/** Every index of one of org-a's collections on the server's Redis, with the ids it holds. */
async function indexes(server: TestServer, collection: string) {
  const redis = new Redis(inject('redisUrl'));
  dispose(() => redis.quit());
  const keys = await redis.keys(`${orgPrefix(server)}idx:${collection}:*`);
  const entries = await Promise.all(keys.map(async (key) => [key, await redis.zrange(key, 0, -1)] as const));
  return Object.fromEntries(entries);
}

/** Milliseconds a record has left on the server's Redis (-1: kept for good, -2: gone). */
async function timeToLive(server: TestServer, collection: string, id: string) {
  const redis = new Redis(inject('redisUrl'));
  dispose(() => redis.quit());
  return redis.pttl(`${orgPrefix(server)}doc:${collection}:${id}`);
}

describe.each(BACKENDS)('retention on the %s backend', (backend) => {
  it('expires notifications after NOTIFICATION_RETENTION_SECONDS, and their index entries with them', async () => {
    const server = await startTestServer({ backend, env: { NOTIFICATION_RETENTION_SECONDS: '1' } });
    const service = await tokenFor(user('svc-1', ['service']));
    const alice = await tokenFor(user('alice', []));
    const old = [];
    for (let i = 0; i < 3; i++) old.push(await send(server, service, { recipientId: 'alice', title: `Old ${i}` }));
    await ok(server, MARK_NOTIFICATION_READ, { id: old[0]!.id }, alice);
    await settle(PAST_RETENTION_MS);
    const fresh = await send(server, service, { recipientId: 'alice', title: 'Fresh' });

    expect((await ok(server, COUNT, {}, alice)).unreadNotificationCount).toBe(1);
    expect((await list(server, alice)).map((n) => n.id)).toEqual([fresh.id]);
    expect((await list(server, alice, { unreadOnly: true })).map((n) => n.id)).toEqual([fresh.id]);
    const gone = await gql(server, MARK_NOTIFICATION_READ, { id: old[1]!.id }, { token: alice });
    expect(errorCode(gone)).toBe('NOT_FOUND');
    if (backend === 'redis') {
      // No dangling entry is left behind: every index holds only the live notification.
      const held = await indexes(server, 'notifications');
      expect(Object.values(held)).toEqual([[fresh.id], [fresh.id]]);
    }
  });

  it('keeps messages by default, and gives notifications their 90-day default', async () => {
    const server = await startTestServer({ backend });
    const p = { alice: await tokenFor(user('alice')), bob: await tokenFor(user('bob')) };
    const service = await tokenFor(user('svc-1', ['service']));
    const room = await createConversation(server, p.alice, ['bob']);
    const message = await sendMessage(server, p.bob, room.id, 'kept');
    const notification = await send(server, service, { recipientId: 'alice' });
    expect((await history(server, p.alice, room.id)).map((m) => m.id)).toEqual([message.id]);
    if (backend === 'redis') {
      expect(await timeToLive(server, 'messages', message.id)).toBe(-1);
      const ninetyDays = 90 * 86_400_000;
      const left = await timeToLive(server, 'notifications', notification.id);
      expect(left).toBeGreaterThan(ninetyDays - 60_000);
      expect(left).toBeLessThanOrEqual(ninetyDays);
    }
  });

  it('expires messages and read pointers with MESSAGE_RETENTION_SECONDS, keeping unread counts right', async () => {
    const server = await startTestServer({ backend, env: { MESSAGE_RETENTION_SECONDS: '1' } });
    const p = { alice: await tokenFor(user('alice')), bob: await tokenFor(user('bob')) };
    const room = await createConversation(server, p.alice, ['bob']);
    const sent = [];
    for (let i = 0; i < 3; i++) sent.push(await sendMessage(server, p.bob, room.id, `old ${i}`));
    await ok(server, MARK_READ, { id: room.id, upTo: sent[0]!.id }, p.alice);
    const unread = async () => (await ok(server, CONVERSATION, { id: room.id }, p.alice)).conversation;
    expect((await unread()).unreadCount).toBe(2);

    await settle(PAST_RETENTION_MS);
    expect(await unread()).toMatchObject({ unreadCount: 0, lastMessage: null });
    expect(await history(server, p.alice, room.id)).toEqual([]);

    const fresh = await sendMessage(server, p.bob, room.id, 'new');
    expect(await unread()).toMatchObject({ unreadCount: 1, lastMessage: { id: fresh.id } });
    expect((await history(server, p.alice, room.id)).map((m) => m.id)).toEqual([fresh.id]);
    if (backend === 'redis') {
      const held = await indexes(server, 'messages');
      for (const ids of Object.values(held)) expect(ids).toEqual([fresh.id]);
      await ok(server, MARK_READ, { id: room.id }, p.alice);
      const pointer = await timeToLive(server, 'conversationReads', `${room.id}/alice`);
      expect(pointer).toBeGreaterThan(0);
      expect(pointer).toBeLessThanOrEqual(1_000);
    }
  });
});

describe.each(BACKENDS)('ended campaigns\u2019 data on the %s backend', (backend) => {
  it('expires an ended campaign\u2019s recipients and send states, and the gateway\u2019s log, keeping the campaign and its counts', async () => {
    const server = await startTestServer({
      backend,
      env: { ...EMBEDDED, CAMPAIGN_DATA_RETENTION_SECONDS: '1', GATEWAY_LOG_RETENTION_SECONDS: '1' },
    });
    const t = await campaignTokens();
    const sessionId = await connectedSession(server, t);
    const recipients = phoneNumbers(30);
    const campaign = await createCampaign(server, t.agent, { sessionId, recipients });
    await act(server, t.agent, 'startCampaign', campaign.id);
    const done = await eventually(async () => {
      const read = await readCampaign(server, t.agent, campaign.id);
      return read.status === 'COMPLETED' && read;
    }, 30_000);
    expect(done).toMatchObject({ total: 30, sent: 30, delivered: 30, failed: 0 });
    const storage = gatewayStorage(server);
    expect(await simulatedGatewayLog(storage, sessionId)).toHaveLength(30);

    await settle(PAST_RETENTION_MS);
    expect(await readCampaign(server, t.agent, campaign.id)).toEqual(done);
    expect(await simulatedGatewayLog(storage, sessionId)).toEqual([]);
    if (backend === 'redis') {
      const redis = new Redis(inject('redisUrl'));
      dispose(() => redis.quit());
      const prefix = orgPrefix(server);
      // The ledger's counts (`:meta`) stay; the resume history has its own window (RESUME_WINDOW_SECONDS).
      const left = (await redis.keys(`${prefix}*`)).filter((key) => !key.startsWith(`${prefix}history:`));
      expect(left.filter((key) => key.includes(campaign.id) && !key.endsWith(':meta'))).toEqual([
        `${prefix}doc:campaigns:${campaign.id}`,
      ]);
      expect(left.filter((key) => key.startsWith(`${prefix}doc:campaign-recipients:`))).toEqual([]);
    }
  });
});

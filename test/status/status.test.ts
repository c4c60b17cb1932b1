import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { adminToken, openSocket, openStream } from '../admin/support.js';
import { subscribeSse } from '../conversations/support.js';
import { SESSION_EVENTS, sessionFixture } from '../hardening/fixtures.js';
import { publishUntilCutOff, stalledSubscriber } from '../hardening/fixtures.js';
import {
  dispose,
  health,
  startCluster,
  startTestServer,
  subscribeWs,
  tokenFor,
  user,
  wsClient,
  type Subscription,
} from '../support/harness.js';

const FAST = { STATUS_INTERVAL_MS: '300' };

const DEPLOYMENT_STATUS = `subscription {
  deploymentStatus {
    occurredAt connections subscriptions deliveriesPerSecond slowConsumers
    instances { instance seenAt connections subscriptions deliveriesPerSecond slowConsumers }
    openConnections { id userId transport instance openedAt subscriptions }
  }
}`;

interface Snapshot {
  connections: number;
  subscriptions: number;
  deliveriesPerSecond: number;
  slowConsumers: number;
  instances: {
    instance: string;
    connections: number;
    subscriptions: number;
    deliveriesPerSecond: number | null;
    slowConsumers: number;
  }[];
  openConnections: { userId: string; transport: string; instance: string; subscriptions: number }[];
}

/** Waits for a snapshot that passes `check` (snapshots come every STATUS_INTERVAL_MS). */
async function snapshotWhere(feed: Subscription<Snapshot>, check: (snapshot: Snapshot) => boolean, timeoutMs = 8000) {
  const deadline = Date.now() + timeoutMs;
  for (let seen = 0; Date.now() < deadline; seen++) {
    const events = await feed.waitForEvents(seen + 1, deadline - Date.now());
    const latest = events[events.length - 1]!;
    if (check(latest)) return latest;
    seen = events.length - 1;
  }
  throw new Error(`No matching snapshot; last: ${JSON.stringify(feed.events.at(-1))}`);
}

describe('deploymentStatus', () => {
  it("shows an admin their organisation's connections and subscriptions on every instance, and nothing of another organisation", async () => {
    const [a, b] = await startCluster(2, FAST);
    await openSocket(a!, await tokenFor(user('agent-1')));
    await openStream(b!, await tokenFor(user('agent-1')));
    await openSocket(b!, await tokenFor(user('agent-2')));
    await openSocket(a!, await tokenFor(user('stranger', ['admin', 'agent'], 'org-b')));

    const feed = await subscribeWs<Snapshot>(a!, wsClient(a!, await adminToken()), DEPLOYMENT_STATUS);
    // The admin's own socket counts too: 4 connections of org-a, each with one subscription.
    const snapshot = await snapshotWhere(feed, (found) => found.instances.length === 2 && found.connections === 4);
    expect(snapshot.subscriptions).toBe(4);
    expect(snapshot.instances.map((instance) => instance.connections).sort()).toEqual([2, 2]);
    expect(snapshot.openConnections.map((found) => found.userId).sort()).toEqual([
      'admin-of-org-a',
      'agent-1',
      'agent-1',
      'agent-2',
    ]);
    expect(snapshot.openConnections.map((found) => found.transport).sort()).toEqual([
      'SSE',
      'WEBSOCKET',
      'WEBSOCKET',
      'WEBSOCKET',
    ]);
    expect(JSON.stringify(feed.events)).not.toContain('stranger');

    // The other organisation's admin sees its own connection alone.
    const other = await subscribeWs<Snapshot>(
      b!,
      wsClient(b!, await tokenFor(user('admin-b', ['admin'], 'org-b'))),
      DEPLOYMENT_STATUS,
    );
    const theirs = await snapshotWhere(other, (found) => found.connections === 2);
    expect(theirs.openConnections.map((found) => found.userId).sort()).toEqual(['admin-b', 'stranger']);
  });

  it('keeps no resume history of its samples in Redis (nobody replays them; each can list 200 connections)', async () => {
    const [a] = await startCluster(1, FAST);
    const feed = await subscribeWs<Snapshot>(a!, wsClient(a!, await adminToken()), DEPLOYMENT_STATUS);
    await snapshotWhere(feed, (found) => found.connections === 1);
    await snapshotWhere(feed, (found) => found.connections === 1);
    const redis = new Redis(inject('redisUrl'));
    dispose(() => redis.quit());
    expect(await redis.exists(`${a!.config.redisPrefix}{o:org-a}history:org:org-a:status`)).toBe(0);
  });

  it('counts the organisation’s deliveries per second and slow consumers, not another organisation’s', async () => {
    const server = await startTestServer({
      env: { ...FAST, SUBSCRIPTION_MAX_QUEUED_EVENTS: '50', WS_MAX_BUFFERED_BYTES: String(256 * 1024 * 1024) },
    });
    const feed = await subscribeWs<Snapshot>(server, wsClient(server, await adminToken()), DEPLOYMENT_STATUS);
    const { agent, sessionId } = await sessionFixture(server);
    const witness = await subscribeWs(server, wsClient(server, agent), SESSION_EVENTS, { sessionId });

    // Another organisation's subscriber and events first: none of it is the admin's figures.
    const other = await sessionFixture(server, 'org-b');
    const elsewhere = await subscribeWs(server, wsClient(server, other.agent), SESSION_EVENTS, {
      sessionId: other.sessionId,
    });
    await snapshotWhere(feed, (found) => found.instances[0]?.deliveriesPerSecond === 0);
    const from = feed.events.length;
    const started = Date.now();
    let emitted = 0;
    while (Date.now() - started < 1500) await other.emit(`b-${emitted++}`);
    await elsewhere.waitForEvents(emitted);
    await snapshotWhere(feed, () => true);
    const during = feed.events.slice(from);
    expect(during.length).toBeGreaterThanOrEqual(3);
    for (const snapshot of during) {
      expect(snapshot.deliveriesPerSecond).toBe(0);
      expect(snapshot.slowConsumers).toBe(0);
    }

    // A subscriber of org-a that stops reading: its queue overflows, it is cut off (4413), counted once.
    await stalledSubscriber(server, agent, sessionId, 1);
    const sockets = async () => (await health(server)).body.connections.websocket;
    expect(await sockets()).toBe(4);
    const sent = await publishUntilCutOff(server, sessionId, 5_000, async () => (await sockets()) < 4);
    await witness.waitForEvents(sent, 20_000);
    const busy = await snapshotWhere(feed, (found) => found.slowConsumers === 1 && found.deliveriesPerSecond > 0);
    expect(busy.instances[0]!.slowConsumers).toBe(1);
    const afterwards = await snapshotWhere(feed, (found) => found.deliveriesPerSecond === 0);
    expect(afterwards.slowConsumers).toBe(1);
  });

  it('counts deliveries to SSE streams too', async () => {
    const server = await startTestServer({ env: FAST });
    const feed = await subscribeWs<Snapshot>(server, wsClient(server, await adminToken()), DEPLOYMENT_STATUS);
    const { agent, sessionId, emit } = await sessionFixture(server);
    const stream = await subscribeSse(server, agent, SESSION_EVENTS, { sessionId });
    await snapshotWhere(feed, (found) => found.instances[0]?.deliveriesPerSecond === 0);
    const started = Date.now();
    let emitted = 0;
    while (Date.now() - started < 1000) await emit(`qr-${emitted++}`);
    const busy = await snapshotWhere(feed, (found) => found.deliveriesPerSecond > 0);
    expect(busy.openConnections.map((found) => found.transport).sort()).toEqual(['SSE', 'WEBSOCKET']);
    await expect.poll(() => stream.events.length).toBeGreaterThanOrEqual(emitted);
  });

  it('is refused to anyone but an admin (FORBIDDEN)', async () => {
    const server = await startTestServer();
    for (const roles of [['agent'], ['service'], []] as const) {
      const feed = await subscribeWs(
        server,
        wsClient(server, await tokenFor(user('u', [...roles]))),
        DEPLOYMENT_STATUS,
      );
      expect(await feed.waitForError()).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    }
  });
});

describe('the /status page', () => {
  it('is served as static files under a strict Content-Security-Policy, with graphql-ws from the server itself', async () => {
    const server = await startTestServer();
    const page = await fetch(`${server.url}/status`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe');
    const html = await page.text();
    for (const src of html.matchAll(/(?:src|href)="([^"]+)"/g)) {
      expect(src[1], 'no other origin').toMatch(/^\/status\//);
      const asset = await fetch(`${server.url}${src[1]}`);
      expect(asset.status, src[1]).toBe(200);
      expect(asset.headers.get('x-content-type-options')).toBe('nosniff');
    }
    expect(await (await fetch(`${server.url}/status/graphql-ws.js`)).text()).toContain('graphqlWs');
    expect((await fetch(`${server.url}/status`, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`${server.url}/status/../../package.json`)).status).toBe(404);
    expect((await fetch(`${server.url}/status/nothing.js`)).status).toBe(404);
  });
});

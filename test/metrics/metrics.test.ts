import { createServer, type Server } from 'node:net';
import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { topics } from '../../src/events/topics.js';
import { subscribeSse } from '../conversations/support.js';
import {
  publishUntilCutOff,
  sessionFixture,
  SESSION_EVENTS,
  stalledEventStream,
  stalledSubscriber,
} from '../hardening/fixtures.js';
import {
  dispose,
  errorCode,
  gql,
  health,
  ok,
  startTestServer,
  subscribeWs,
  tokenFor,
  user,
  wsClient,
} from '../support/harness.js';
import { freePort } from '../support/redis-server.js';
import { capturingLogger, expectSample, metricsOn, scrape } from './scrape.js';

/*
 * Prometheus metrics (README: Operations → Metrics), scraped over HTTP from
 * the metrics listener as Prometheus would, while real clients (graphql-ws,
 * graphql-sse, fetch) make each counted thing happen.
 */

/** A subscription whose result reads nothing of its viewer: one execution serves every subscriber. */
const TYPENAMES_ONLY = `subscription ($sessionId: ID!) { sessionEvents(sessionId: $sessionId) { __typename } }`;

describe('metrics listener', () => {
  it('serves /metrics on METRICS_HOST:METRICS_PORT only, never on the public port, with the default process metrics', async () => {
    const env = await metricsOn();
    const server = await startTestServer({ env });
    expect(server.server.metricsUrl).toBe(`http://127.0.0.1:${env.METRICS_PORT}/metrics`);

    const onPublic = await fetch(`${server.url}/metrics`);
    expect(onPublic.status).toBe(404);
    expect(await onPublic.text()).not.toContain('# TYPE');
    expect((await fetch(`http://127.0.0.1:${env.METRICS_PORT}/other`)).status).toBe(404);

    const metrics = await scrape(server.server.metricsUrl);
    for (const name of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_gc_duration_seconds',
    ]) {
      expect(metrics.types.has(name), name).toBe(true);
    }
    expect(metrics.value('process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(metrics.value('realtime_graphql_connections', { transport: 'websocket' })).toBe(0);
  });

  it.runIf(process.platform === 'linux')(
    'counts open file descriptors off the event loop, and leaves out the metrics that walk every handle',
    async () => {
      const server = await startTestServer({ env: await metricsOn() });
      const before = (await scrape(server.server.metricsUrl)).value('process_open_fds');
      expect(before).toBeGreaterThan(0);
      // Each WebSocket is a descriptor of this process (the server and the client run in it).
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          const { agent, sessionId } = await sessionFixture(server);
          await subscribeWs(server, wsClient(server, agent), SESSION_EVENTS, { sessionId });
        }),
      );
      const metrics = await scrape(server.server.metricsUrl);
      expect(metrics.value('process_open_fds')).toBeGreaterThanOrEqual(before! + 20);
      expect(metrics.types.get('process_open_fds')).toBe('gauge');
      for (const name of ['nodejs_active_handles', 'nodejs_active_handles_total', 'nodejs_active_resources']) {
        expect(metrics.types.has(name), name).toBe(false);
      }
    },
  );

  it('two servers in one process each serve their own counts', async () => {
    const [a, b] = await Promise.all([
      startTestServer({ env: await metricsOn() }),
      startTestServer({ env: await metricsOn() }),
    ]);
    const { agent, sessionId } = await sessionFixture(a);
    await subscribeWs(a, wsClient(a, agent), SESSION_EVENTS, { sessionId });
    await expectSample(a.server.metricsUrl, 'realtime_graphql_connections', { transport: 'websocket' }, 1);
    expect((await scrape(b.server.metricsUrl)).value('realtime_graphql_connections', { transport: 'websocket' })).toBe(
      0,
    );
  });

  it('a metrics port already in use is logged and the server still serves', async () => {
    const port = await freePort();
    const squatter: Server = createServer();
    await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
    dispose(() => new Promise((resolve) => squatter.close(resolve)));
    const { logger, lines } = capturingLogger();

    const server = await startTestServer({ env: { METRICS_PORT: String(port) }, logger });
    expect(server.server.metricsUrl).toBeUndefined();
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 40, port, msg: expect.stringMatching(/^metrics port already in use/) }),
    );
    expect((await health(server)).status).toBe(200);
    expect(await ok(server, '{ me { id } }', {}, await tokenFor(user('agent-1')))).toEqual({ me: { id: 'agent-1' } });
  });

  it('METRICS_PORT=0 serves no metrics', async () => {
    const server = await startTestServer({ env: { METRICS_PORT: '0' } });
    expect(server.server.metricsUrl).toBeUndefined();
  });
});

describe('metrics move when things happen', () => {
  it('connections by transport and subscriptions by root field go up and down (WebSocket and SSE)', async () => {
    const server = await startTestServer({ env: await metricsOn() });
    const url = server.server.metricsUrl;
    const { agent, sessionId } = await sessionFixture(server);

    const client = wsClient(server, agent);
    const overWs = await subscribeWs(server, client, SESSION_EVENTS, { sessionId });
    // An alias and a fragment: still the root field's own name.
    const aliased = await subscribeWs(
      server,
      client,
      `subscription ($sessionId: ID!) { ...F } fragment F on Subscription { mine: sessionEvents(sessionId: $sessionId) { __typename } }`,
      { sessionId },
    );
    await subscribeSse(server, agent, SESSION_EVENTS, { sessionId });
    const metrics = await scrape(url);
    expect(metrics.value('realtime_graphql_connections', { transport: 'websocket' })).toBe(1);
    expect(metrics.value('realtime_graphql_connections', { transport: 'sse' })).toBe(1);
    expect(metrics.value('realtime_graphql_subscriptions', { field: 'sessionEvents' })).toBe(3);
    expect(metrics.text).not.toContain('field="mine"');

    overWs.stop();
    aliased.stop();
    await expectSample(url, 'realtime_graphql_subscriptions', { field: 'sessionEvents' }, 1);
    await client.dispose();
    await expectSample(url, 'realtime_graphql_connections', { transport: 'websocket' }, 0);
  });

  it('counts events delivered by the shared fan-out and over SSE, and the executions the fan-out shared', async () => {
    const server = await startTestServer({ env: await metricsOn() });
    const url = server.server.metricsUrl;
    const { agent, sessionId, emit } = await sessionFixture(server);
    const client = wsClient(server, agent);
    const subscribers = [
      await subscribeWs(server, client, TYPENAMES_ONLY, { sessionId }),
      await subscribeWs(server, client, TYPENAMES_ONLY, { sessionId }),
      await subscribeWs(server, wsClient(server, agent), TYPENAMES_ONLY, { sessionId }),
    ];
    const overSse = await subscribeSse(server, agent, TYPENAMES_ONLY, { sessionId });

    // The first report is a status change and a QR code: two events for each subscriber.
    await emit('qr-1');
    for (const subscriber of subscribers) await subscriber.waitForEvents(2);
    await expect.poll(() => overSse.events.length).toBe(2);

    await expectSample(url, 'realtime_graphql_events_delivered_total', { transport: 'websocket' }, 6);
    await expectSample(url, 'realtime_graphql_events_delivered_total', { transport: 'sse' }, 2);
    // Three subscribers of one document and variables: one execution per event.
    await expectSample(url, 'realtime_graphql_fanout_executions_total', {}, 2);
  });

  it('counts slow consumers cut off, once each, over WebSocket and SSE', async () => {
    const server = await startTestServer({
      env: { ...(await metricsOn()), SUBSCRIPTION_MAX_QUEUED_EVENTS: '50', WS_MAX_BUFFERED_BYTES: String(256 << 20) },
    });
    const url = server.server.metricsUrl;
    const { agent, sessionId } = await sessionFixture(server);
    await stalledSubscriber(server, agent, sessionId, 1);
    await publishUntilCutOff(
      server,
      sessionId,
      5_000,
      async () => (await health(server)).body.connections.websocket < 1,
    );
    await expectSample(url, 'realtime_graphql_slow_consumers_total', { transport: 'websocket' }, 1);
    expect((await scrape(url)).value('realtime_graphql_slow_consumers_total', { transport: 'sse' })).toBe(0);

    const stalled = await stalledEventStream(server, agent, sessionId);
    dispose(() => stalled.destroy());
    await publishUntilCutOff(server, sessionId, 5_000, async () => (await health(server)).body.connections.sse < 1);
    await expectSample(url, 'realtime_graphql_slow_consumers_total', { transport: 'sse' }, 1);
    expect((await scrape(url)).value('realtime_graphql_slow_consumers_total', { transport: 'websocket' })).toBe(1);
  });

  it('counts rate-limited operations by limit, over HTTP and WebSocket', async () => {
    const server = await startTestServer({
      env: {
        ...(await metricsOn()),
        RATE_LIMIT_PER_SECOND: '1',
        RATE_LIMIT_BURST: '2',
        MAX_SUBSCRIPTIONS_PER_CONNECTION: '1',
      },
    });
    const url = server.server.metricsUrl;
    // Another user than the session's owner: buckets are per user.
    const token = await tokenFor(user('agent-9'));
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await gql(server, '{ me { id } }', {}, { token }));
    expect(results.map(errorCode)).toEqual([undefined, undefined, 'RATE_LIMITED']);
    await expectSample(url, 'realtime_graphql_rate_limited_total', { limit: 'rate' }, 1);

    const { agent, sessionId } = await sessionFixture(server);
    const client = wsClient(server, agent);
    await subscribeWs(server, client, SESSION_EVENTS, { sessionId });
    const second = await subscribeWs(server, client, SESSION_EVENTS, { sessionId });
    // graphql-ws hands an operation's error frame to the sink as the array of errors.
    expect(second.errors.flat()).toContainEqual(expect.objectContaining({ extensions: { code: 'RATE_LIMITED' } }));
    await expectSample(url, 'realtime_graphql_rate_limited_total', { limit: 'subscriptions_per_connection' }, 1);
  });

  it('counts refused WebSockets by close code: a bad token 4403, one connection too many 4029', async () => {
    const server = await startTestServer({ env: { ...(await metricsOn()), MAX_CONNECTIONS_PER_USER: '1' } });
    const url = server.server.metricsUrl;
    const closedWith = (token: string) =>
      new Promise<number>((resolve) => {
        const client = wsClient(server, token, {
          lazy: false,
          onNonLazyError: () => {},
          on: { closed: (event) => resolve((event as { code: number }).code) },
        });
        void client;
      });

    expect(await closedWith('not-a-token')).toBe(4403);
    await expectSample(url, 'realtime_graphql_websocket_refused_total', { code: '4403' }, 1);

    const { agent, sessionId } = await sessionFixture(server);
    await subscribeWs(server, wsClient(server, agent), SESSION_EVENTS, { sessionId });
    expect(await closedWith(agent)).toBe(4029);
    await expectSample(url, 'realtime_graphql_websocket_refused_total', { code: '4029' }, 1);
    // The 4029 is not also counted as the 4403 graphql-ws would have sent.
    expect((await scrape(url)).value('realtime_graphql_websocket_refused_total', { code: '4403' })).toBe(1);
  });

  it('counts events received from Redis, drops malformed ones, and times Redis round trips', async () => {
    const server = await startTestServer({ backend: 'redis', env: await metricsOn() });
    const url = server.server.metricsUrl;
    const { agent, sessionId, emit } = await sessionFixture(server);
    const subscriber = await subscribeWs(server, wsClient(server, agent), SESSION_EVENTS, { sessionId });
    const before = await scrape(url);

    const raw = new Redis(inject('redisUrl'));
    dispose(() => raw.quit());
    const channel = `${server.config.redisPrefix}{o:org-a}${topics.session('org-a', sessionId)}`;
    await raw.publish(channel, 'not json {');
    await raw.publish(channel, JSON.stringify({ __typename: 'QrCodeUpdated' }));
    await emit('qr-1');
    await subscriber.waitForEvents(2);

    await expectSample(url, 'realtime_graphql_bus_events_malformed_total', {}, 2);
    const after = await scrape(url);
    expect(
      after.value('realtime_graphql_bus_events_received_total')! -
        before.value('realtime_graphql_bus_events_received_total')!,
    ).toBeGreaterThanOrEqual(4);
    expect(subscriber.events.map((event) => event.__typename)).toEqual(['SessionStatusChanged', 'QrCodeUpdated']);

    // The probe pings at start: its histogram has an observation.
    expect(after.types.get('realtime_graphql_redis_ping_seconds')).toBe('histogram');
    expect(after.value('realtime_graphql_redis_ping_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(after.value('realtime_graphql_redis_ping_failures_total')).toBe(0);
  });
});

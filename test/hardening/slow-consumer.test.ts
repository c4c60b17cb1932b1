import { describe, expect, it } from 'vitest';
import { health, startTestServer, subscribeWs, wsClient } from '../support/harness.js';
import {
  publishUntilCutOff,
  qr,
  sessionFixture,
  SESSION_EVENTS,
  stalledEventStream,
  stalledSubscriber,
} from './fixtures.js';

describe('slow consumers', () => {
  it('cuts off a client whose subscription queue overflows (SUBSCRIPTION_MAX_QUEUED_EVENTS); others get every event', async () => {
    const server = await startTestServer({
      env: { SUBSCRIPTION_MAX_QUEUED_EVENTS: '50', WS_MAX_BUFFERED_BYTES: String(256 * 1024 * 1024) },
    });
    const { agent, sessionId } = await sessionFixture(server);
    const witness = await subscribeWs(server, wsClient(server, agent), SESSION_EVENTS, { sessionId });
    await stalledSubscriber(server, agent, sessionId, 1);
    expect((await health(server)).body.connections.websocket).toBe(2);

    const sent = await publishUntilCutOff(server, sessionId, 5_000);
    expect((await health(server)).body.connections.websocket).toBe(1);
    const events = await witness.waitForEvents(sent, 20_000);
    expect(events.map((event) => event.qrCode)).toEqual(Array.from({ length: sent }, (_, n) => qr(n)));
    expect(witness.isCompleted()).toBe(false);
    // The cut-off subscription ended in an error: /health counts the witness's alone.
    await expect.poll(async () => (await health(server)).body.subscriptions).toBe(1);
  });

  it('cuts off a client that stays over WS_MAX_BUFFERED_BYTES for WS_SLOW_CONSUMER_GRACE_MS; others get every event', async () => {
    const server = await startTestServer({
      env: {
        SUBSCRIPTION_MAX_QUEUED_EVENTS: '1000000',
        WS_MAX_BUFFERED_BYTES: '16384',
        WS_SLOW_CONSUMER_GRACE_MS: '200',
      },
    });
    const { agent, sessionId } = await sessionFixture(server);
    const witness = await subscribeWs(server, wsClient(server, agent), SESSION_EVENTS, { sessionId });
    await stalledSubscriber(server, agent, sessionId, 10);

    const sent = await publishUntilCutOff(server, sessionId, 5_000);
    expect((await health(server)).body.connections.websocket).toBe(1);
    const events = await witness.waitForEvents(sent, 20_000);
    expect(events).toHaveLength(sent);
    expect(events.at(-1).qrCode).toBe(qr(sent - 1));
    await expect.poll(async () => (await health(server)).body.subscriptions).toBe(1);
  });

  it('drops an SSE stream whose client stopped reading once its queue overflows; others get every event', async () => {
    const server = await startTestServer({ env: { SUBSCRIPTION_MAX_QUEUED_EVENTS: '50' } });
    const { agent, sessionId } = await sessionFixture(server);
    const witness = await subscribeWs(server, wsClient(server, agent), SESSION_EVENTS, { sessionId });
    const stalled = await stalledEventStream(server, agent, sessionId);
    expect((await health(server)).body.connections.sse).toBe(1);

    const sent = await publishUntilCutOff(
      server,
      sessionId,
      5_000,
      async () => (await health(server)).body.connections.sse === 0,
    );
    expect((await health(server)).body.connections.sse).toBe(0);
    expect(await witness.waitForEvents(sent, 20_000)).toHaveLength(sent);
    await expect.poll(async () => (await health(server)).body.subscriptions).toBe(1);
    stalled.destroy();
  });
});

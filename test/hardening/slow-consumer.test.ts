import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { topics } from '../../src/events/topics.js';
import type { SessionEvent } from '../../src/sessions/events.js';
import { health, startTestServer, subscribeWs, wsClient, type TestServer } from '../support/harness.js';
import { sessionFixture, SESSION_EVENTS, subscribeMessage } from './fixtures.js';
import { rawSocket, sleep } from './raw-ws.js';

/** A 32 KiB QR code: big events fill a stalled socket's buffers quickly. */
const qr = (n: number) => `${n}:`.padEnd(32 * 1024, 'q');

/**
 * Publishes QR events on the session's channel, as a gateway worker does
 * over the publisher, in batches of 20 (well under the queue limits, so a
 * client that reads keeps up) until the stalled socket is gone or `max` events.
 */
async function publishUntilCutOff(
  server: TestServer,
  sessionId: string,
  max: number,
  done = async () => (await health(server)).body.connections.websocket < 2,
) {
  const channel = topics.session('org-a', sessionId);
  let sent = 0;
  while (sent < max && !(await done())) {
    for (let i = 0; i < 20; i++, sent++) {
      const event: SessionEvent = {
        __typename: 'QrCodeUpdated',
        sessionId,
        qrCode: qr(sent),
        occurredAt: new Date().toISOString(),
      };
      await server.server.runtime.bus.publish(channel, event);
    }
    await sleep(20);
  }
  return sent;
}

/** A socket that subscribes to the session `subscriptions` times, then stops reading. */
async function stalledSubscriber(server: TestServer, token: string, sessionId: string, subscriptions: number) {
  const before = (await health(server)).body.subscriptions;
  const socket = await rawSocket(server);
  await socket.init(token);
  for (let i = 0; i < subscriptions; i++) socket.send(subscribeMessage(`s${i}`, sessionId));
  while ((await health(server)).body.subscriptions < before + subscriptions) await sleep(10);
  socket.ws.pause();
  return socket;
}

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
    const before = (await health(server)).body.subscriptions;
    const stalled = request(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${agent}` },
    });
    stalled.on('error', () => {});
    stalled.on('response', (response) => response.pause());
    stalled.end(JSON.stringify({ query: SESSION_EVENTS, variables: { sessionId } }));
    while ((await health(server)).body.subscriptions <= before) await sleep(10);
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

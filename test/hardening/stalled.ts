import { topics } from '../../src/events/topics.js';
import type { SessionEvent } from '../../src/sessions/events.js';
import { health, type TestServer } from '../support/harness.js';
import { subscribeMessage } from './fixtures.js';
import { rawSocket, sleep } from './raw-ws.js';

/** Clients that stop reading, and the events that overflow them (slow-consumer tests). */

/** A 32 KiB QR code: big events fill a stalled socket's buffers quickly. */
export const qr = (n: number) => `${n}:`.padEnd(32 * 1024, 'q');

/**
 * Publishes QR events on the session's channel, as a gateway worker does
 * over the publisher, in batches of 20 (well under the queue limits, so a
 * client that reads keeps up) until the stalled socket is gone or `max` events.
 */
export async function publishUntilCutOff(
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
export async function stalledSubscriber(server: TestServer, token: string, sessionId: string, subscriptions: number) {
  const before = (await health(server)).body.subscriptions;
  const socket = await rawSocket(server);
  await socket.init(token);
  for (let i = 0; i < subscriptions; i++) socket.send(subscribeMessage(`s${i}`, sessionId));
  while ((await health(server)).body.subscriptions < before + subscriptions) await sleep(10);
  socket.ws.pause();
  return socket;
}

import { request, type ClientRequest } from 'node:http';
import { topics } from '../../src/events/topics.js';
import type { SessionEvent } from '../../src/sessions/events.js';
import { health, ok, tokenFor, user, type TestServer } from '../support/harness.js';
import { rawSocket, sleep } from './raw-ws.js';

/** The subscription every transport test holds open: events of one session. */
export const SESSION_EVENTS = `subscription ($sessionId: ID!) {
  sessionEvents(sessionId: $sessionId) {
    __typename
    ... on QrCodeUpdated { sessionId qrCode }
    ... on SessionStatusChanged { sessionId status }
  }
}`;

export const REPORT = `mutation ($input: SessionStatusReport!) { reportSessionStatus(input: $input) { id status qrCode } }`;

/** A session owned by `agent-1` of `org` (default org-a), and tokens of its owner and of a gateway service. */
export async function sessionFixture(server: TestServer, org = 'org-a') {
  const agent = await tokenFor(user('agent-1', ['agent'], org));
  const service = await tokenFor(user('svc-1', ['service'], org));
  const data = await ok(server, 'mutation { createSession(name: "Hardening") { id } }', {}, agent);
  const sessionId = data.createSession.id as string;
  /** Makes the session emit one QrCodeUpdated event (and a status change the first time). */
  const emit = (qrCode: string) => ok(server, REPORT, { input: { sessionId, status: 'QR_REQUIRED', qrCode } }, service);
  return { agent, service, sessionId, emit };
}

/** A `subscribe` message for the session's events. */
export const subscribeMessage = (id: string, sessionId: string) => ({
  id,
  type: 'subscribe',
  payload: { query: SESSION_EVENTS, variables: { sessionId } },
});

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

/** An SSE stream of the session's events whose client stopped reading; resolves once it is live. */
export async function stalledEventStream(server: TestServer, token: string, sessionId: string): Promise<ClientRequest> {
  const before = (await health(server)).body.subscriptions;
  const stalled = request(server.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
  });
  stalled.on('error', () => {});
  stalled.on('response', (response) => response.pause());
  stalled.end(JSON.stringify({ query: SESSION_EVENTS, variables: { sessionId } }));
  while ((await health(server)).body.subscriptions <= before) await sleep(10);
  return stalled;
}

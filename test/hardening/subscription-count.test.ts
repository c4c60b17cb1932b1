import { describe, expect, it } from 'vitest';
import { health, startTestServer, subscribeWs, wsClient, type TestServer } from '../support/harness.js';
import { sessionFixture, SESSION_EVENTS, subscribeMessage } from './fixtures.js';
import { rawSocket } from './raw-ws.js';

/** `/health` `subscriptions`, once it settles on `count`. */
const untilCounted = (server: TestServer, count: number) =>
  expect.poll(async () => (await health(server)).body.subscriptions, { timeout: 5000 }).toBe(count);

/**
 * `/health` counts each running subscription from its transport's own
 * lifecycle; every way a subscription ends brings the count back down.
 * (Slow-consumer cut-offs, which end subscriptions in an error, are in
 * slow-consumer.test.ts.)
 */
describe('/health subscriptions', () => {
  it('WebSocket: back to 0 after a client complete, a subscription deleted under it, a socket close; queries and refused starts never count', async () => {
    const server = await startTestServer();
    const { agent, sessionId } = await sessionFixture(server);
    const socket = await rawSocket(server);
    await socket.init(agent);
    socket.send(subscribeMessage('a', sessionId));
    socket.send(subscribeMessage('b', sessionId));
    socket.send(subscribeMessage('missing', 'no-such-session'));
    socket.send({ id: 'q', type: 'subscribe', payload: { query: '{ me { id } }' } });
    await socket.waitFor((message) => message.id === 'missing' && message.type !== 'next');
    await socket.waitFor((message) => message.id === 'q' && message.type === 'complete');
    await untilCounted(server, 2);

    socket.send({ id: 'a', type: 'complete' });
    await untilCounted(server, 1);

    // The server ends it: the session is deleted under the subscription.
    const client = wsClient(server, agent);
    const deleted = await subscribeWs(server, client, SESSION_EVENTS, { sessionId });
    await untilCounted(server, 2);
    const del = await fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${agent}` },
      body: JSON.stringify({ query: 'mutation ($id: ID!) { deleteSession(id: $id) }', variables: { id: sessionId } }),
    });
    expect(del.status).toBe(200);
    await deleted.completed;
    socket.ws.close();
    await untilCounted(server, 0);
  });

  it('SSE: back to 0 when the stream is cancelled, or refused at start', async () => {
    const server = await startTestServer();
    const { agent, sessionId } = await sessionFixture(server);
    const open = (variables: Record<string, unknown>) =>
      fetch(server.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${agent}` },
        body: JSON.stringify({ query: SESSION_EVENTS, variables }),
      });
    const live = await open({ sessionId });
    await untilCounted(server, 1);
    const refused = await open({ sessionId: 'no-such-session' });
    expect(await refused.text()).toContain('NOT_FOUND');
    await untilCounted(server, 1);
    await live.body!.cancel();
    await untilCounted(server, 0);
  });
});

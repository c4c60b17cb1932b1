import { describe, expect, it } from 'vitest';
import { health, startCluster, startTestServer, subscribeWs, tokenFor, user, wsClient } from '../support/harness.js';
import { sessionFixture, SESSION_EVENTS, subscribeMessage } from './fixtures.js';
import { rawSocket, sleep } from './raw-ws.js';

/** Resolves once `/health` counts `count` live subscriptions. */
async function untilSubscriptions(server: Awaited<ReturnType<typeof startTestServer>>, count: number) {
  const deadline = Date.now() + 5000;
  while ((await health(server)).body.subscriptions < count) {
    if (Date.now() > deadline) throw new Error(`fewer than ${count} live subscriptions`);
    await sleep(10);
  }
}

describe('graphql-transport-ws, strictly', () => {
  it('closes 4408 when connection_init does not come in time, and keeps a socket that sent it', async () => {
    const server = await startTestServer({ env: { WS_CONNECTION_INIT_TIMEOUT_MS: '300' } });
    const token = await tokenFor(user('agent-1'));
    const silent = await rawSocket(server);
    const prompt = await rawSocket(server);
    await prompt.init(token);
    expect(await silent.closed).toMatchObject({ code: 4408 });
    expect(prompt.ws.readyState).toBe(prompt.ws.OPEN);
  });

  it('closes 4429 on a second connection_init', async () => {
    const server = await startTestServer();
    const socket = await rawSocket(server);
    await socket.init(await tokenFor(user('agent-1')));
    socket.send({ type: 'connection_init', payload: {} });
    expect(await socket.closed).toMatchObject({ code: 4429 });
  });

  it('closes 4409 when a subscription id is already in use', async () => {
    const server = await startTestServer();
    const { agent, sessionId } = await sessionFixture(server);
    const socket = await rawSocket(server);
    await socket.init(agent);
    socket.send(subscribeMessage('1', sessionId));
    await untilSubscriptions(server, 1);
    socket.send(subscribeMessage('1', sessionId));
    expect(await socket.closed).toMatchObject({ code: 4409 });
  });

  it.each([
    ['text that is not JSON', 'not json {'],
    ['a message without type', '{"id":"1"}'],
    ['an unknown type', '{"type":"subscribe_all"}'],
    ['a subscribe without query', '{"type":"subscribe","id":"1","payload":{}}'],
    ['variables that are not an object', '{"type":"subscribe","id":"1","payload":{"query":"{me{id}}","variables":3}}'],
    ['a server-only "next" message', '{"type":"next","id":"1","payload":{"data":{}}}'],
    ['a server-only "error" message', '{"type":"error","id":"1","payload":[{"message":"x"}]}'],
    ['a server-only "connection_ack" message', '{"type":"connection_ack"}'],
  ])('closes 4400 on %s', async (_name, message) => {
    const server = await startTestServer();
    const socket = await rawSocket(server);
    await socket.init(await tokenFor(user('agent-1')));
    socket.send(message);
    expect(await socket.closed).toMatchObject({ code: 4400 });
  });

  it('closes 4401 on a subscribe before the connection is acknowledged', async () => {
    const server = await startTestServer();
    const socket = await rawSocket(server);
    socket.send({ id: '1', type: 'subscribe', payload: { query: '{ me { id } }' } });
    expect(await socket.closed).toMatchObject({ code: 4401 });
  });

  it('closes 4403 for a missing, malformed, badly signed or expired token', async () => {
    const server = await startTestServer();
    const good = await tokenFor(user('agent-1'));
    const expired = await tokenFor(user('agent-1'), Math.floor(Date.now() / 1000) - 10);
    const forged = good.slice(0, -4) + (good.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    for (const payload of [
      {},
      undefined,
      { authorization: 'Bearer not-a-jwt' },
      { authorization: `Bearer ${forged}` },
      { authorization: `Bearer ${expired}` },
      { token: 42 },
    ]) {
      const socket = await rawSocket(server);
      socket.send({ type: 'connection_init', ...(payload ? { payload } : {}) });
      expect(await socket.closed).toMatchObject({ code: 4403 });
      expect(socket.messages).toEqual([]);
    }
  });

  it('closes 4406 without the graphql-transport-ws subprotocol', async () => {
    const server = await startTestServer();
    const socket = await rawSocket(server, { protocol: null });
    expect(await socket.closed).toMatchObject({ code: 4406 });
  });

  it('pings on WS_KEEPALIVE_MS and terminates a socket that stops answering, keeping one that answers', async () => {
    const server = await startTestServer({ env: { WS_KEEPALIVE_MS: '200' } });
    const token = await tokenFor(user('agent-1'));
    const mute = await rawSocket(server, { autoPong: false });
    const alive = await rawSocket(server);
    let pings = 0;
    alive.ws.on('ping', () => pings++);
    await mute.init(token);
    await alive.init(token);
    const dropped = await mute.closed;
    // Terminated, not closed politely: the client sees an abnormal closure.
    expect(dropped.code).toBe(1006);
    await sleep(500);
    expect(pings).toBeGreaterThanOrEqual(2);
    expect(alive.ws.readyState).toBe(alive.ws.OPEN);
    expect((await health(server)).body.connections.websocket).toBe(1);
  });

  it('closes 1009 on a message larger than WS_MAX_PAYLOAD_BYTES and accepts one within it', async () => {
    const server = await startTestServer({ env: { WS_MAX_PAYLOAD_BYTES: '4096' } });
    const token = await tokenFor(user('agent-1'));
    const small = await rawSocket(server);
    await small.init(token);
    small.send({ id: 'a', type: 'subscribe', payload: { query: `{ me { id } }  ${' '.repeat(3000)}` } });
    const answer = await small.waitFor((message) => message.id === 'a' && message.type === 'next');
    expect(answer.payload).toEqual({ data: { me: { id: 'agent-1' } } });

    const big = await rawSocket(server);
    await big.init(token);
    big.send({ id: 'b', type: 'subscribe', payload: { query: `{ me { id } } ${' '.repeat(5000)}` } });
    expect(await big.closed).toMatchObject({ code: 1009 });
  });
});

describe('subscriptions per connection (MAX_SUBSCRIPTIONS_PER_CONNECTION)', () => {
  it('refuses an operation over the limit with RATE_LIMITED and keeps the socket and its subscriptions', async () => {
    const server = await startTestServer({ env: { MAX_SUBSCRIPTIONS_PER_CONNECTION: '2' } });
    const { agent, sessionId, emit } = await sessionFixture(server);
    const socket = await rawSocket(server);
    await socket.init(agent);
    socket.send(subscribeMessage('1', sessionId));
    socket.send(subscribeMessage('2', sessionId));
    await untilSubscriptions(server, 2);
    socket.send(subscribeMessage('3', sessionId));
    const refused = await socket.waitFor((message) => message.id === '3');
    expect(refused.type).toBe('error');
    expect(refused.payload[0].extensions.code).toBe('RATE_LIMITED');

    await emit('qr-1');
    for (const id of ['1', '2']) {
      const event = await socket.waitFor(
        (message) => message.id === id && message.payload?.data?.sessionEvents?.qrCode,
      );
      expect(event.payload.data.sessionEvents).toMatchObject({ __typename: 'QrCodeUpdated', qrCode: 'qr-1' });
    }
    // A slot frees when a subscription completes.
    socket.send({ id: '1', type: 'complete' });
    await sleep(50);
    socket.send(subscribeMessage('4', sessionId));
    await untilSubscriptions(server, 2);
    await emit('qr-2');
    await socket.waitFor((message) => message.id === '4' && message.payload?.data?.sessionEvents?.qrCode === 'qr-2');
    expect(socket.ws.readyState).toBe(socket.ws.OPEN);
  });
});

describe('connections per user (MAX_CONNECTIONS_PER_USER)', () => {
  it('closes 4029 a connection over the limit, counts per user, and frees a slot on close', async () => {
    const server = await startTestServer({ env: { MAX_CONNECTIONS_PER_USER: '2' } });
    const ada = await tokenFor(user('ada'));
    const first = await rawSocket(server);
    await first.init(ada);
    const second = await rawSocket(server);
    await second.init(ada);
    const third = await rawSocket(server);
    third.send({ type: 'connection_init', payload: { authorization: `Bearer ${ada}` } });
    expect(await third.closed).toMatchObject({ code: 4029 });
    expect(third.messages).toEqual([]);

    // The same id in another organisation is another user.
    const other = await rawSocket(server);
    await other.init(await tokenFor(user('ada', ['agent'], 'org-b')));

    first.ws.close();
    await first.closed;
    await sleep(50);
    const again = await rawSocket(server);
    await again.init(ada);
  });

  it('counts SSE streams too', async () => {
    const server = await startTestServer({ env: { MAX_CONNECTIONS_PER_USER: '1' } });
    const { agent, sessionId } = await sessionFixture(server);
    const socket = await rawSocket(server);
    await socket.init(agent);
    const response = await fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${agent}` },
      body: JSON.stringify({ query: SESSION_EVENTS, variables: { sessionId } }),
    });
    const text = await response.text();
    expect(text).toContain('RATE_LIMITED');
  });

  it('shares the count across instances through Redis', async () => {
    const [a, b] = await startCluster(2, { MAX_CONNECTIONS_PER_USER: '2' });
    const ada = await tokenFor(user('ada'));
    await (await rawSocket(a!)).init(ada);
    await (await rawSocket(b!)).init(ada);
    const third = await rawSocket(a!);
    third.send({ type: 'connection_init', payload: { authorization: `Bearer ${ada}` } });
    expect(await third.closed).toMatchObject({ code: 4029 });
  });
});

describe('failures inside an operation', () => {
  it('answers an operation that breaks the parser with an error message, not a 4500 close', async () => {
    // Tokens unlimited, so a document nested 100 000 deep reaches the recursive parser.
    const server = await startTestServer({ env: { MAX_TOKENS: '10000000', WS_MAX_PAYLOAD_BYTES: '4194304' } });
    const token = await tokenFor(user('agent-1'));
    const socket = await rawSocket(server);
    await socket.init(token);
    const nested = `{ me(x: ${'['.repeat(100_000)}${']'.repeat(100_000)}) { id } }`;
    socket.send({ id: 'deep', type: 'subscribe', payload: { query: nested } });
    const answer = await socket.waitFor((message) => message.id === 'deep');
    expect(answer.type).toBe('error');
    expect(answer.payload[0]).toEqual({ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } });
    socket.send({ id: 'after', type: 'subscribe', payload: { query: '{ me { id } }' } });
    const after = await socket.waitFor((message) => message.id === 'after' && message.type === 'next');
    expect(after.payload.data.me.id).toBe('agent-1');
    expect(socket.ws.readyState).toBe(socket.ws.OPEN);

    const http = await fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: nested }),
    });
    const body = await http.text();
    expect(body).not.toMatch(/call stack|RangeError/i);
    expect(JSON.parse(body).errors[0].extensions.code).toBe('INTERNAL_SERVER_ERROR');
  });

  it('runs queries and mutations over WebSocket, not only subscriptions', async () => {
    const server = await startTestServer();
    const socket = await rawSocket(server);
    await socket.init(await tokenFor(user('agent-1')));
    socket.send({
      id: 'm',
      type: 'subscribe',
      payload: { query: 'mutation { createSession(name: "over ws") { name } }' },
    });
    const created = await socket.waitFor((message) => message.id === 'm' && message.type === 'next');
    expect(created.payload).toEqual({ data: { createSession: { name: 'over ws' } } });
  });

  it('keeps a graphql-ws client working while operations fail', async () => {
    const server = await startTestServer();
    const { agent, sessionId } = await sessionFixture(server);
    const client = wsClient(server, agent);
    const missing = await subscribeWs(server, client, SESSION_EVENTS, { sessionId: 'no-such-session' });
    expect(JSON.stringify(await missing.waitForError())).toContain('NOT_FOUND');
    const live = await subscribeWs(server, client, SESSION_EVENTS, { sessionId });
    expect(live.isCompleted()).toBe(false);
  });
});

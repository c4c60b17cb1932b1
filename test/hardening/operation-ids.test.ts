import { describe, expect, it } from 'vitest';
import { MAX_OPERATION_ID_BYTES } from '../../src/server/graphql-ws-adapter.js';
import { health, ok, startTestServer } from '../support/harness.js';
import { sessionFixture, subscribeMessage } from './fixtures.js';
import { rawSocket, sleep } from './raw-ws.js';

const CREATE = 'mutation { createSession(name: "by-a-long-id") { id } }';
const SESSIONS = '{ sessions { name } }';

describe(`operation ids (at most ${MAX_OPERATION_ID_BYTES} UTF-8 bytes)`, () => {
  it('closes 4400 on a 100 KB id before the operation runs or any frame names it', async () => {
    const server = await startTestServer();
    const { agent } = await sessionFixture(server);
    const socket = await rawSocket(server);
    await socket.init(agent);
    socket.send({ id: 'x'.repeat(100_000), type: 'subscribe', payload: { query: CREATE } });
    expect(await socket.closed).toMatchObject({ code: 4400 });
    expect(socket.messages.map((message) => message.type)).toEqual(['connection_ack']);
    await sleep(100);
    const { sessions } = await ok(server, SESSIONS, {}, agent);
    expect(sessions.map((session: { name: string }) => session.name)).not.toContain('by-a-long-id');
  });

  it('counts bytes, not characters: a long id of multi-byte characters closes 4400 too', async () => {
    const server = await startTestServer();
    const { agent, sessionId } = await sessionFixture(server);
    const socket = await rawSocket(server);
    await socket.init(agent);
    // 43 characters, 129 bytes.
    socket.send(subscribeMessage('€'.repeat(43), sessionId));
    expect(await socket.closed).toMatchObject({ code: 4400 });
    expect(socket.messages.map((message) => message.type)).toEqual(['connection_ack']);
  });

  it(`accepts an id of exactly ${MAX_OPERATION_ID_BYTES} bytes, and one a byte longer closes the socket`, async () => {
    const server = await startTestServer();
    const { agent, sessionId, emit } = await sessionFixture(server);
    const socket = await rawSocket(server);
    await socket.init(agent);
    const longest = 'é'.repeat(MAX_OPERATION_ID_BYTES / 2);
    socket.send(subscribeMessage(longest, sessionId));
    while ((await health(server)).body.subscriptions < 1) await sleep(10);
    await emit('qr-1');
    const event = await socket.waitFor(
      (message) => message.id === longest && message.payload?.data?.sessionEvents?.qrCode === 'qr-1',
    );
    expect(event.type).toBe('next');

    socket.send(subscribeMessage(`${'é'.repeat(MAX_OPERATION_ID_BYTES / 2)}x`, sessionId));
    expect(await socket.closed).toMatchObject({ code: 4400 });
  });

  it('closes 4409 on a reused id without echoing it in the close reason', async () => {
    const server = await startTestServer();
    const { agent, sessionId } = await sessionFixture(server);
    const socket = await rawSocket(server);
    await socket.init(agent);
    const id = 'i'.repeat(MAX_OPERATION_ID_BYTES);
    socket.send(subscribeMessage(id, sessionId));
    await sleep(100);
    socket.send(subscribeMessage(id, sessionId));
    expect(await socket.closed).toEqual({ code: 4409, reason: 'Subscriber already exists' });
  });
});

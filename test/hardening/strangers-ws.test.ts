import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { dispose, health, startTestServer, tokenFor, user, type TestServer } from '../support/harness.js';
import { rawSocket, sleep } from './raw-ws.js';

/**
 * What a WebSocket client without a token can make the server hold: its own
 * messages echoed back, sockets kept open after a refusal or a close, an
 * upgrade answered and then left half-open. Each is bounded to about a
 * second and a few kilobytes, as a raw client (one that answers nothing,
 * reads nothing, closes nothing) shows.
 */
describe('a WebSocket stranger without a token', () => {
  it('gets pongs without its ping payload, and is closed 1009 for a big message before connection_ack', async () => {
    const target = await startTestServer();
    const socket = await rawSocket(target);
    socket.send({ type: 'ping', payload: { filler: 'x'.repeat(2000) } });
    const pong = await socket.waitFor((message) => message.type === 'pong');
    expect(pong).toEqual({ type: 'pong' });

    // 1 MiB is within WS_MAX_PAYLOAD_BYTES, but not for a socket that has proven nothing yet.
    socket.send({ type: 'ping', payload: { filler: 'x'.repeat(1024 * 1024 - 100) } });
    expect((await socket.closed).code).toBe(1009);
  });

  it('may send large messages once acknowledged (the bound is for strangers only)', async () => {
    const target = await startTestServer();
    const socket = await rawSocket(target);
    await socket.init(await tokenFor(user('agent-1')));
    socket.send({ type: 'ping', payload: { filler: 'x'.repeat(200 * 1024) } });
    expect(await socket.waitFor((message) => message.type === 'pong')).toEqual({ type: 'pong' });
  });

  it('is dropped a second after a close it never answers (not the 30 s ws would wait)', async () => {
    const target = await startTestServer({ env: { WS_CONNECTION_INIT_TIMEOUT_MS: '200' } });
    const tcp = await rawUpgrade(target);
    await until(async () => (await health(target)).body.connections.websocket === 1);
    // No connection_init: closed 4408 after 200 ms; the close frame is never answered.
    const started = Date.now();
    // The server ends the TCP connection (this client keeps its own side open, as it would).
    await new Promise<void>((resolve) => tcp.once('end', () => resolve()));
    expect(Date.now() - started).toBeLessThan(5000);
    await until(async () => (await health(target)).body.connections.websocket === 0);
  });

  it('cannot keep a refused upgrade open, nor hold up shutdown with it', async () => {
    const target = await startTestServer({ env: { SHUTDOWN_TIMEOUT_MS: '300' } });
    const refused = await rawUpgrade(target, { origin: 'http://evil.example', expect: 403 });
    expect(refused.destroyed).toBe(false);
    const started = Date.now();
    await target.server.close();
    expect(Date.now() - started).toBeLessThan(4000);
  });
});

/**
 * A WebSocket upgrade by hand on a TCP socket that never closes its side
 * (allowHalfOpen), never answers a close frame and never sends anything:
 * resolves once the server answered the upgrade with `expect`.
 */
async function rawUpgrade(
  target: TestServer,
  { origin, expect: status = 101 }: { origin?: string; expect?: number } = {},
): Promise<Socket> {
  const { port } = new URL(target.url);
  const tcp = connect({ host: '127.0.0.1', port: Number(port), allowHalfOpen: true });
  dispose(() => tcp.destroy());
  tcp.on('error', () => {});
  await new Promise<void>((resolve) => tcp.once('connect', () => resolve()));
  tcp.write(
    [
      'GET /graphql HTTP/1.1',
      `Host: 127.0.0.1:${port}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
      'Sec-WebSocket-Version: 13',
      'Sec-WebSocket-Protocol: graphql-transport-ws',
      ...(origin ? [`Origin: ${origin}`] : []),
      '',
      '',
    ].join('\r\n'),
  );
  const head = await new Promise<string>((resolve) => tcp.once('data', (chunk) => resolve(String(chunk))));
  if (!head.startsWith(`HTTP/1.1 ${status} `)) throw new Error(`Unexpected answer: ${head.slice(0, 80)}`);
  return tcp;
}

async function until(check: () => Promise<boolean>, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('Timed out waiting');
    await sleep(50);
  }
}

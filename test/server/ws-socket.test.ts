import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { textFrame } from '../../src/server/raw-frames.js';
import { WsSocket } from '../../src/server/ws-socket.js';
import { dispose } from '../support/harness.js';

/** A `ws` server on port 0 and a client of it: the server's side of the connection, and what the client receives. */
async function connected() {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  dispose(() => new Promise((resolve) => wss.close(resolve)));
  await new Promise((resolve) => wss.once('listening', resolve));
  const serverSide = new Promise<WebSocket>((resolve) => wss.once('connection', resolve));
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
  dispose(() => client.terminate());
  const received: string[] = [];
  client.on('message', (data, isBinary) => received.push(isBinary ? 'binary' : String(data)));
  await new Promise((resolve) => client.once('open', resolve));
  return { socket: await serverSide, received };
}

async function until(check: () => boolean) {
  const deadline = Date.now() + 2000;
  while (!check() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe('WsSocket: the one place that writes ready frames to ws', () => {
  it('sends ready text frames of every length class, a burst in order, and says when each is written', async () => {
    const { socket, received } = await connected();
    const raw = new WsSocket(socket);
    expect(raw.open).toBe(true);
    const bodies = ['x', 'y'.repeat(300), 'z'.repeat(70_000)];
    const written: (Error | undefined)[] = [];
    for (const body of bodies)
      raw.sendRaw(textFrame(Buffer.from('<'), Buffer.from(body), Buffer.from('>')), (error) => written.push(error));
    await until(() => received.length === 3);
    expect(received).toEqual(bodies.map((body) => `<${body}>`));
    expect(written).toHaveLength(3);
    expect(written.filter(Boolean)).toEqual([]);
    expect(raw.bufferedAmount).toBe(0);
  });

  it('falls back to ws send() with the frame’s payload when the sender takes no ready frames', async () => {
    const { socket, received } = await connected();
    // A ws whose internals lack the sender: everything else is the real socket.
    const withoutSender = new Proxy(socket, {
      get(target, key) {
        if (key === '_sender') return undefined;
        const value: unknown = Reflect.get(target, key);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const raw = new WsSocket(withoutSender);
    raw.sendRaw(textFrame(Buffer.from('{"a":'), Buffer.from('"b'.padEnd(200, 'c') + '"'), Buffer.from('}')));
    await until(() => received.length === 1);
    expect(JSON.parse(received[0]!)).toEqual({ a: 'b'.padEnd(199, 'c') });
  });

  it('calls its afterSend hook after every frame (the slow-consumer watch)', async () => {
    const { socket, received } = await connected();
    let checks = 0;
    class Watched extends WsSocket {
      protected override afterSend() {
        checks++;
      }
    }
    const raw = new Watched(socket);
    raw.sendRaw(textFrame(Buffer.from('a'), Buffer.alloc(0), Buffer.from('b')));
    raw.sendRaw(textFrame(Buffer.from('c'), Buffer.alloc(0), Buffer.from('d')));
    await until(() => received.length === 2);
    expect(received).toEqual(['ab', 'cd']);
    expect(checks).toBe(2);
  });
});

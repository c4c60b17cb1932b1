import { describe, expect, it } from 'vitest';
import { health, startTestServer, tokenFor, user } from '../support/harness.js';
import { rawSocket } from '../hardening/raw-ws.js';

const inSeconds = (s: number) => Math.floor(Date.now() / 1000) + s;

describe('per-socket deadlines on the shared schedule, many sockets at once', () => {
  it('closes each socket 4403 at its own token’s exp, terminates the silent ones, and keeps the rest', async () => {
    const server = await startTestServer({ env: { WS_KEEPALIVE_MS: '300' } });
    const exps = [inSeconds(2), inSeconds(3), inSeconds(2), inSeconds(4)];
    const expiring = await Promise.all(exps.map(() => rawSocket(server)));
    await Promise.all(expiring.map(async (socket, i) => socket.init(await tokenFor(user(`short-${i}`), exps[i]!))));
    const closedAt = expiring.map((socket) => socket.closed.then((close) => ({ ...close, at: Date.now() })));
    // Sockets that do not answer pings, among ones that do, all on the same schedule.
    const mute = await Promise.all([0, 1, 2].map(() => rawSocket(server, { autoPong: false })));
    const alive = await Promise.all([0, 1, 2].map(() => rawSocket(server)));
    await Promise.all([...mute, ...alive].map(async (socket, i) => socket.init(await tokenFor(user(`long-${i}`)))));

    for (const socket of mute) expect((await socket.closed).code).toBe(1006);
    const closes = await Promise.all(closedAt);
    closes.forEach((close, i) => {
      expect(close.code).toBe(4403);
      expect(close.at).toBeGreaterThanOrEqual(exps[i]! * 1000 - 50);
      expect(close.at - exps[i]! * 1000).toBeLessThan(1000);
    });
    for (const socket of alive) expect(socket.ws.readyState).toBe(socket.ws.OPEN);
    expect((await health(server)).body.connections.websocket).toBe(alive.length);
  }, 20_000);
});

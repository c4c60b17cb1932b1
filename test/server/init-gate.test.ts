import { describe, expect, it } from 'vitest';
import { createGate } from '../../src/server/init-gate.js';
import {
  BACKENDS,
  health,
  settle,
  startTestServer,
  subscribeWs,
  tokenFor,
  user,
  wsClient,
} from '../support/harness.js';
import { rawSocket } from '../hardening/raw-ws.js';

/** A promise and its resolver. */
function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

describe('createGate', () => {
  it('runs at most its bound at once, the others in arrival order as turns free up', async () => {
    const gate = createGate(2);
    const started: number[] = [];
    const releases = Array.from({ length: 5 }, deferred);
    const done = releases.map((release, i) =>
      gate.run(async () => {
        started.push(i);
        await release.promise;
        return i;
      }),
    );
    await settle(5);
    expect(started).toEqual([0, 1]);
    expect([gate.running, gate.waiting]).toEqual([2, 3]);
    releases[1]!.resolve();
    await settle(5);
    expect(started).toEqual([0, 1, 2]);
    releases[0]!.resolve();
    releases[2]!.resolve();
    await settle(5);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    releases[3]!.resolve();
    releases[4]!.resolve();
    expect(await Promise.all(done)).toEqual([0, 1, 2, 3, 4]);
    expect([gate.running, gate.waiting]).toEqual([0, 0]);
  });

  it('passes a failure to its caller and still gives the turn on', async () => {
    const gate = createGate(1);
    const failed = gate.run(() => Promise.reject(new Error('no')));
    const thrown = gate.run(() => {
      throw new Error('sync');
    });
    const next = gate.run(async () => 'next');
    await expect(failed).rejects.toThrow('no');
    await expect(thrown).rejects.toThrow('sync');
    expect(await next).toBe('next');
  });
});

describe.each(BACKENDS)('connection_inits through the gate on the %s backend', (backend) => {
  it('answers every socket of a burst in turn, one at a time, keeping slot caps, presence and auth', async () => {
    const server = await startTestServer({
      backend,
      env: { WS_MAX_CONCURRENT_INITS: '1', MAX_CONNECTIONS_PER_USER: '3' },
    });
    // Someone watching ada's presence: her coming online is published once, before her first ack.
    const watcher = wsClient(server, await tokenFor(user('bob')));
    const presence = await subscribeWs(
      server,
      watcher,
      'subscription { presenceChanged(userIds: ["ada"]) { userId online } }',
    );

    const ada = await tokenFor(user('ada'));
    const others = await Promise.all(Array.from({ length: 12 }, (_, i) => tokenFor(user(`user-${i}`))));
    const sockets = await Promise.all(Array.from({ length: 18 }, () => rawSocket(server)));
    const tokens = [ada, ada, ada, ada, ada, ada, ...others];
    // All at once: 6 of ada's (3 over her cap), 12 other users', one bad token.
    sockets.forEach((socket, i) =>
      socket.send({ type: 'connection_init', payload: { authorization: `Bearer ${tokens[i]}` } }),
    );
    const bad = await rawSocket(server);
    bad.send({ type: 'connection_init', payload: { authorization: 'Bearer nope' } });

    const outcomes = await Promise.all(
      sockets.map((socket) =>
        Promise.race([
          socket.waitFor((message) => message.type === 'connection_ack', 10_000).then(() => 'ack'),
          socket.closed.then(({ code }) => code),
        ]),
      ),
    );
    expect(outcomes.slice(0, 6).filter((outcome) => outcome === 'ack')).toHaveLength(3);
    expect(outcomes.slice(0, 6).filter((outcome) => outcome === 4029)).toHaveLength(3);
    expect(outcomes.slice(6)).toEqual(Array(12).fill('ack'));
    expect(await bad.closed).toMatchObject({ code: 4403 });

    await presence.waitForEvents(1);
    await settle(100);
    expect(presence.events).toEqual([{ userId: 'ada', online: true }]);
    expect((await health(server)).body.connections.websocket).toBe(1 + 15);
  });
});

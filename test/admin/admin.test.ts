import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { startChildServer } from '../support/child-server.js';
import {
  dispose,
  errorCode,
  gql,
  health,
  settle,
  ok,
  startCluster,
  startTestServer,
  tokenFor,
  user,
  wsClient,
  type TestServer,
} from '../support/harness.js';
import {
  adminToken,
  CONNECTIONS,
  DISCONNECT,
  nextSecond,
  openSocket,
  openStream,
  OWN_EVENTS,
  REVOKE,
  streamStatus,
  tokenWithoutIat,
  within,
} from './support.js';

interface ConnectionView {
  id: string;
  userId: string;
  transport: 'WEBSOCKET' | 'SSE';
  instance: string;
  openedAt: string;
  subscriptions: number;
}

const connectionsOf = async (server: TestServer, token: string, userId?: string) =>
  (await ok<{ connections: ConnectionView[] }>(server, CONNECTIONS, { userId }, token)).connections;

/** A WebSocket with `token` is refused: the client sees the socket closed with 4403. */
async function socketRefused(server: TestServer, token: string): Promise<number> {
  const client = wsClient(server, token);
  const closed = new Promise<number>((resolve) =>
    client.on('closed', (event) => resolve((event as { code: number }).code)),
  );
  client.subscribe({ query: OWN_EVENTS }, { next: () => {}, error: () => {}, complete: () => {} });
  return (await within(closed, 5000, 'the refused socket closing')).value;
}

describe('admin API across instances', () => {
  it("lists a user's WebSocket and SSE connections on both instances, with their subscriptions", async () => {
    const [a, b] = await startCluster(2);
    const agent = await tokenFor(user('agent-1'));
    const admin = await adminToken();
    await openSocket(a!, agent);
    await openStream(b!, agent);
    await openSocket(b!, await tokenFor(user('agent-2')));

    const listed = await connectionsOf(a!, admin, 'agent-1');
    expect(listed).toHaveLength(2);
    expect(listed.map((found) => found.transport).sort()).toEqual(['SSE', 'WEBSOCKET']);
    expect(new Set(listed.map((found) => found.instance)).size).toBe(2);
    for (const found of listed) {
      expect(found).toMatchObject({ userId: 'agent-1', subscriptions: 1 });
      expect(Date.parse(found.openedAt)).toBeGreaterThan(Date.now() - 60_000);
    }
    // Asked on either instance, the same deployment-wide answer; without a user, the whole organisation.
    expect((await connectionsOf(b!, admin, 'agent-1')).map((found) => found.id).sort()).toEqual(
      listed.map((found) => found.id).sort(),
    );
    const everyone = await connectionsOf(b!, admin);
    expect(everyone.map((found) => found.userId).sort()).toEqual(['agent-1', 'agent-1', 'agent-2']);
  });

  it('answers at most `limit` connections, the oldest of every instance, and refuses a limit outside 1 to 10000', async () => {
    const [a, b] = await startCluster(2);
    const admin = await adminToken();
    // Opened one after another, alternating instances: the oldest three are on both.
    for (let i = 0; i < 6; i++) await openSocket(i % 2 ? b! : a!, await tokenFor(user(`agent-${i}`)));

    const all = (await ok(a!, CONNECTIONS, { limit: 10_000 }, admin)).connections as ConnectionView[];
    expect(all.map((found) => found.userId)).toEqual([
      'agent-0',
      'agent-1',
      'agent-2',
      'agent-3',
      'agent-4',
      'agent-5',
    ]);
    const oldest = (await ok(b!, CONNECTIONS, { limit: 3 }, admin)).connections as ConnectionView[];
    expect(oldest).toEqual(all.slice(0, 3));
    for (const limit of [0, 10_001]) {
      expect(errorCode(await gql(a!, CONNECTIONS, { limit }, { token: admin }))).toBe('BAD_USER_INPUT');
    }
  });

  it('disconnectUser closes the WebSockets (4403) and SSE streams on both instances within 1 s and counts them', async () => {
    const [a, b] = await startCluster(2);
    const agent = await tokenFor(user('agent-1'));
    const bystander = await openSocket(a!, await tokenFor(user('agent-2')));
    const sockets = [await openSocket(a!, agent), await openSocket(b!, agent)];
    const streams = [await openStream(a!, agent), await openStream(b!, agent)];

    const started = Date.now();
    const count = await ok<{ disconnectUser: number }>(
      b!,
      DISCONNECT,
      { userId: 'agent-1', reason: 'left' },
      await adminToken(),
    );
    expect(count.disconnectUser).toBe(4);
    const codes = await within(Promise.all(sockets.map((socket) => socket.closed)), 1000, 'both sockets closing');
    expect(codes.value).toEqual([4403, 4403]);
    await within(Promise.all(streams.map((stream) => stream.completed)), 1000, 'both streams ending');
    expect(Date.now() - started).toBeLessThan(1000 + 1000);
    expect(streams.every((stream) => stream.errors.length === 0)).toBe(true);

    expect(await connectionsOf(a!, await adminToken(), 'agent-1')).toEqual([]);
    expect(bystander.closedCode()).toBeUndefined();
    // Not a ban: the user may connect again.
    await openSocket(a!, agent);
    expect(await connectionsOf(a!, await adminToken(), 'agent-1')).toHaveLength(1);
  });

  it('revokeTokens closes the connections and refuses the old token on both instances, not a newer one', async () => {
    const [a, b] = await startCluster(2);
    const old = await tokenFor(user('agent-1'));
    const otherUser = await tokenFor(user('agent-2'));
    const sockets = [await openSocket(a!, old), await openSocket(b!, old)];
    const stream = await openStream(b!, old);

    const before = Date.now();
    const { revokeTokens } = await ok<{ revokeTokens: string }>(a!, REVOKE, { userId: 'agent-1' }, await adminToken());
    expect(Date.parse(revokeTokens)).toBeGreaterThanOrEqual(before - 5);
    expect(Date.parse(revokeTokens)).toBeLessThanOrEqual(Date.now());
    const codes = await within(Promise.all(sockets.map((socket) => socket.closed)), 1000, 'both sockets closing');
    expect(codes.value).toEqual([4403, 4403]);
    await within(stream.completed, 1000, 'the stream ending');

    for (const server of [a!, b!]) {
      const refused = await gql(server, '{ me { id } }', {}, { token: old });
      expect(refused.status).toBe(401);
      expect(errorCode(refused)).toBe('UNAUTHENTICATED');
      expect(refused.errors?.[0]?.message).toBe('Token has been revoked');
      expect(await socketRefused(server, old)).toBe(4403);
      expect(await streamStatus(server, old)).toBe(401);
      // Another user of the organisation is not affected.
      expect((await ok(server, '{ me { id } }', {}, otherUser)).me).toEqual({ id: 'agent-2' });
    }

    await nextSecond();
    const fresh = await tokenFor(user('agent-1'));
    for (const server of [a!, b!]) {
      expect((await ok(server, '{ me { id } }', {}, fresh)).me).toEqual({ id: 'agent-1' });
      await openSocket(server, fresh);
      expect(await streamStatus(server, fresh)).toBe(200);
    }
  });

  it('a revocation survives a restart: a new process on the same Redis refuses the old token', async () => {
    const [a] = await startCluster(1);
    const old = await tokenFor(user('agent-1'));
    await ok(a!, REVOKE, { userId: 'agent-1' }, await adminToken());
    await a!.server.close();

    const restarted = await startChildServer({ redisUrl: inject('redisUrl'), prefix: a!.config.redisPrefix });
    expect((await gql(restarted, '{ me { id } }', {}, { token: old })).status).toBe(401);
    expect(await socketRefused(restarted, old)).toBe(4403);
    await nextSecond();
    const fresh = await tokenFor(user('agent-1'));
    expect((await ok(restarted, '{ me { id } }', {}, fresh)).me).toEqual({ id: 'agent-1' });
  });

  it('forgets a revocation, in Redis too, once the longest token lifetime (JWT_MAX_TOKEN_AGE_SECONDS) has passed', async () => {
    const [a] = await startCluster(1, {
      JWT_MAX_TOKEN_AGE_SECONDS: '2',
      PRESENCE_HEARTBEAT_MS: '200',
      PRESENCE_LAPSE_MS: '600',
    });
    const admin = await tokenFor(user('admin-of-org-a', ['admin']), '2s');
    const redis = new Redis(inject('redisUrl'));
    dispose(() => redis.quit());
    const stored = `${a!.config.redisPrefix}doc:token-revocations:org-a:agent-1`;
    await ok(a!, REVOKE, { userId: 'agent-1' }, admin);
    expect(await redis.exists(stored)).toBe(1);
    // Every token it covers has expired by now: the next heartbeats sweep it.
    await within(
      (async () => {
        while ((await redis.exists(stored)) === 1) await settle(100);
      })(),
      5000,
      'the revocation being forgotten',
    );
    expect(await redis.zcard(`${a!.config.redisPrefix}idx:token-revocations:by-expiry`)).toBe(0);
  });

  it('answers without an instance that died: its connections are gone, the answer comes after the deadline', async () => {
    const [a] = await startCluster(1);
    const doomed = await startChildServer({ redisUrl: inject('redisUrl'), prefix: a!.config.redisPrefix });
    const agent = await tokenFor(user('agent-1'));
    await openSocket(a!, agent);
    await openSocket(doomed, agent);
    const admin = await adminToken();
    expect(await connectionsOf(a!, admin, 'agent-1')).toHaveLength(2);

    await doomed.kill();
    const started = Date.now();
    const listed = await connectionsOf(a!, admin, 'agent-1');
    const took = Date.now() - started;
    expect(listed).toHaveLength(1);
    expect(listed[0]!.instance).toBe(a!.server.runtime.services.presence.instanceId);
    // It waited for the dead instance's answer up to the 800 ms deadline, no longer (generous bound: loaded machine).
    expect(took).toBeGreaterThanOrEqual(700);
    expect(took).toBeLessThan(3000);
  });

  it('is refused to non-admins (FORBIDDEN), and an admin reaches nothing of another organisation', async () => {
    const [a, b] = await startCluster(2);
    const agent = await tokenFor(user('agent-1'));
    const socket = await openSocket(a!, agent);
    await openStream(b!, agent);

    for (const [query, variables] of [
      [CONNECTIONS, {}],
      [DISCONNECT, { userId: 'agent-1' }],
      [REVOKE, { userId: 'agent-1' }],
    ] as const) {
      const refused = await gql(b!, query, variables, { token: agent });
      expect(errorCode(refused)).toBe('FORBIDDEN');
    }

    const stranger = await adminToken('org-b');
    expect(await connectionsOf(a!, stranger, 'agent-1')).toEqual([]);
    expect(await connectionsOf(a!, stranger)).toEqual([]);
    expect((await ok<{ disconnectUser: number }>(a!, DISCONNECT, { userId: 'agent-1' }, stranger)).disconnectUser).toBe(
      0,
    );
    await ok(b!, REVOKE, { userId: 'agent-1' }, stranger);

    // Nothing of org-a was closed or refused.
    expect(socket.closedCode()).toBeUndefined();
    expect(await connectionsOf(b!, await adminToken(), 'agent-1')).toHaveLength(2);
    expect((await ok(a!, '{ me { id } }', {}, agent)).me).toEqual({ id: 'agent-1' });

    const malformed = await gql(a!, DISCONNECT, { userId: 'has space' }, { token: await adminToken() });
    expect(errorCode(malformed)).toBe('BAD_USER_INPUT');
  });

  it('drops malformed admin commands and forged replies from Redis: nothing is closed, revoked or crashed', async () => {
    const [a, b] = await startCluster(2);
    const agent = await tokenFor(user('agent-1'));
    const socket = await openSocket(b!, agent);
    const redis = new Redis(inject('redisUrl'));
    dispose(() => redis.quit());
    const prefix = a!.config.redisPrefix;
    const junk = [
      'not json',
      { kind: 'disconnect', orgId: 'org-a', userId: 'agent-1' },
      { kind: 'revoked', orgId: 'org-a', userId: 'agent-1', revokedAt: 'now' },
      { kind: 'list', requestId: '', replyTo: 'x', orgId: 'org-a', userId: null },
    ];
    for (const message of junk) {
      await redis.publish(
        `${prefix}internal:admin:commands`,
        typeof message === 'string' ? message : JSON.stringify(message),
      );
    }
    const forged = { kind: 'disconnect', requestId: 'forged', instance: 'x', closed: 1000 };
    await redis.publish(
      `${prefix}internal:admin:replies:${a!.server.runtime.services.presence.instanceId}`,
      JSON.stringify(forged),
    );

    const dropped = async () => (await health(b!)).body as unknown as { events: { malformedDropped: number } };
    await within(
      (async () => {
        while ((await dropped()).events.malformedDropped < 4) await settle(20);
      })(),
      5000,
      'the junk being dropped',
    );
    expect(socket.closedCode()).toBeUndefined();
    expect((await ok(b!, '{ me { id } }', {}, agent)).me).toEqual({ id: 'agent-1' });
    expect(await connectionsOf(a!, await adminToken(), 'agent-1')).toHaveLength(1);
  });

  it('ignores a revocation from the future heard over Redis: it cannot lock a user out for good', async () => {
    const [a] = await startCluster(1, { PRESENCE_HEARTBEAT_MS: '200', PRESENCE_LAPSE_MS: '600' });
    const redis = new Redis(inject('redisUrl'));
    dispose(() => redis.quit());
    const forged = {
      kind: 'revoked',
      orgId: 'org-a',
      userId: 'agent-1',
      revokedAt: Date.now() + 10 * 365 * 86_400_000,
    };
    await redis.publish(`${a!.config.redisPrefix}internal:admin:commands`, JSON.stringify(forged));
    // And straight into storage, which the heartbeat reloads from (Redis is untrusted too).
    await redis.set(
      `${a!.config.redisPrefix}doc:token-revocations:org-a:agent-2`,
      JSON.stringify({ ...forged, id: 'org-a:agent-2', userId: 'agent-2' }),
    );
    await redis.zadd(`${a!.config.redisPrefix}idx:token-revocations:by-expiry`, forged.revokedAt, 'org-a:agent-2');
    await settle(300);
    await nextSecond();
    for (const userId of ['agent-1', 'agent-2']) {
      const fresh = await tokenFor(user(userId));
      expect((await gql(a!, '{ me { id } }', {}, { token: fresh })).status).toBe(200);
    }
  });

  it('works in one process on the embedded default', async () => {
    const server = await startTestServer();
    const agent = await tokenFor(user('agent-1'));
    const socket = await openSocket(server, agent);
    const stream = await openStream(server, agent);
    const admin = await adminToken();
    expect((await connectionsOf(server, admin, 'agent-1')).map((found) => found.transport).sort()).toEqual([
      'SSE',
      'WEBSOCKET',
    ]);
    // Over a WebSocket too: the admin's own socket is listed, with no subscription.
    const adminSocket = wsClient(server, admin);
    const viaSocket = await new Promise<{ data?: { connections: ConnectionView[] } | null }>((resolve, reject) => {
      let last: { data?: { connections: ConnectionView[] } | null } = {};
      adminSocket.subscribe<{ connections: ConnectionView[] }>(
        { query: CONNECTIONS },
        { next: (result) => (last = result), error: reject, complete: () => resolve(last) },
      );
    });
    expect(
      viaSocket.data?.connections.map(({ userId, transport, subscriptions }) => ({ userId, transport, subscriptions })),
    ).toEqual([
      { userId: 'agent-1', transport: 'WEBSOCKET', subscriptions: 1 },
      { userId: 'agent-1', transport: 'SSE', subscriptions: 1 },
      { userId: 'admin-of-org-a', transport: 'WEBSOCKET', subscriptions: 0 },
    ]);
    expect(
      (await ok<{ disconnectUser: number }>(server, DISCONNECT, { userId: 'agent-1' }, admin)).disconnectUser,
    ).toBe(2);
    expect((await within(socket.closed, 1000, 'the socket closing')).value).toBe(4403);
    await within(stream.completed, 1000, 'the stream ending');
    const noIat = await tokenWithoutIat('agent-1');
    const otherNoIat = await tokenWithoutIat('agent-2');
    expect((await ok(server, '{ me { id } }', {}, noIat)).me).toEqual({ id: 'agent-1' });
    await ok(server, REVOKE, { userId: 'agent-1' }, admin);
    expect((await gql(server, '{ me { id } }', {}, { token: agent })).status).toBe(401);
    // Without `iat` a token cannot show it came after the revocation: refused; another user's is not concerned.
    expect((await gql(server, '{ me { id } }', {}, { token: noIat })).status).toBe(401);
    expect((await ok(server, '{ me { id } }', {}, otherNoIat)).me).toEqual({ id: 'agent-2' });
  });
});

import { makeExecutableSchema } from '@graphql-tools/schema';
import { GraphQLError, parse, type ExecutionArgs } from 'graphql';
import { describe, expect, it } from 'vitest';
import { topics } from '../../src/events/topics.js';
import { FrameCache, type Executed } from '../../src/server/fanout.js';
import {
  BACKENDS,
  ok,
  settle,
  startTestServer,
  subscribeWs,
  tokenFor,
  user,
  wsClient,
  type TestServer,
} from '../support/harness.js';

/**
 * WebSocket subscriptions run on the shared fan-out path (src/server/fanout.ts):
 * one execution and one serialised payload per event and group, written to
 * every socket. These tests prove it delivers exactly what each subscriber may
 * see, with its own operation id, and that revocation and expiry still end
 * subscriptions within the contract's second.
 */

const EVENTS = `subscription ($sessionId: ID!) {
  sessionEvents(sessionId: $sessionId) {
    __typename
    ... on QrCodeUpdated { sessionId qrCode }
    ... on SessionStatusChanged { sessionId status }
    ... on SessionConnectionError { sessionId error }
    ... on SessionDeleted { sessionId }
  }
}`;
/** Another document on the same sessions: its own group, its own shape. */
const TYPENAMES_ONLY = `subscription ($sessionId: ID!) { sessionEvents(sessionId: $sessionId) { __typename } }`;
const REPORT = `mutation ($input: SessionStatusReport!) { reportSessionStatus(input: $input) { id } }`;

async function createSession(server: TestServer, token: string) {
  const data = await ok(server, 'mutation { createSession(name: "phone") { id } }', {}, token);
  return data.createSession.id as string;
}

describe.each(BACKENDS)('shared fan-out on the %s backend', (backend) => {
  it('gives many subscribers of one event only their own sessions’ events, each under its own operation id', async () => {
    const server = await startTestServer({ backend });
    const owner1 = await tokenFor(user('agent-1', ['agent']));
    const owner2 = await tokenFor(user('agent-2', ['agent']));
    const service = await tokenFor(user('svc-1', ['service']));
    const s1 = await createSession(server, owner1);
    const s2 = await createSession(server, owner2);

    // One admin socket with both sessions, one owner socket with s1 twice, admins of their own.
    const adminClient = wsClient(server, await tokenFor(user('admin-0', ['admin'])));
    const ownerClient = wsClient(server, owner1);
    const onS1 = [
      await subscribeWs(server, adminClient, EVENTS, { sessionId: s1 }),
      await subscribeWs(server, ownerClient, EVENTS, { sessionId: s1 }),
      await subscribeWs(server, ownerClient, EVENTS, { sessionId: s1 }),
    ];
    const onS2 = [
      await subscribeWs(server, adminClient, EVENTS, { sessionId: s2 }),
      await subscribeWs(server, wsClient(server, owner2), EVENTS, { sessionId: s2 }),
    ];
    for (let i = 1; i <= 4; i++) {
      const client = wsClient(server, await tokenFor(user(`admin-${i}`, ['admin'])));
      onS1.push(await subscribeWs(server, client, EVENTS, { sessionId: s1 }));
      onS2.push(await subscribeWs(server, client, EVENTS, { sessionId: s2 }));
    }
    const shapeOnly = await subscribeWs(server, wsClient(server, owner1), TYPENAMES_ONLY, { sessionId: s1 });
    const refused = [
      await subscribeWs(server, wsClient(server, owner2), EVENTS, { sessionId: s1 }),
      await subscribeWs(server, wsClient(server, await tokenFor(user('admin-x', ['admin'], 'org-b'))), EVENTS, {
        sessionId: s1,
      }),
    ];

    await ok(server, REPORT, { input: { sessionId: s1, status: 'QR_REQUIRED', qrCode: 'qr-one' } }, service);
    await ok(server, REPORT, { input: { sessionId: s2, status: 'ERROR', error: 'offline' } }, service);

    const s1Events = [
      { __typename: 'SessionStatusChanged', sessionId: s1, status: 'QR_REQUIRED' },
      { __typename: 'QrCodeUpdated', sessionId: s1, qrCode: 'qr-one' },
    ];
    const s2Events = [
      { __typename: 'SessionStatusChanged', sessionId: s2, status: 'ERROR' },
      { __typename: 'SessionConnectionError', sessionId: s2, error: 'offline' },
    ];
    for (const subscription of onS1) expect(await subscription.waitForEvents(2)).toEqual(s1Events);
    for (const subscription of onS2) expect(await subscription.waitForEvents(2)).toEqual(s2Events);
    expect(await shapeOnly.waitForEvents(2)).toEqual([
      { __typename: 'SessionStatusChanged' },
      { __typename: 'QrCodeUpdated' },
    ]);
    for (const subscription of refused) {
      expect(JSON.stringify(await subscription.waitForError())).toContain('NOT_FOUND');
      expect(subscription.events).toEqual([]);
    }
    await settle(100);
    for (const subscription of [...onS1, ...onS2]) expect(subscription.events).toHaveLength(2);
  });

  it('ends every shared subscriber within 1 s when the session is deleted, SessionDeleted last, nothing after', async () => {
    const server = await startTestServer({ backend });
    const owner = await tokenFor(user('agent-1', ['agent']));
    const sessionId = await createSession(server, owner);
    const subscribers = [await subscribeWs(server, wsClient(server, owner), EVENTS, { sessionId })];
    for (let i = 0; i < 12; i++) {
      const client = wsClient(server, await tokenFor(user(`admin-${i}`, ['admin'])));
      subscribers.push(await subscribeWs(server, client, EVENTS, { sessionId }));
    }

    const deletedAt = Date.now();
    await ok(server, 'mutation ($id: ID!) { deleteSession(id: $id) }', { id: sessionId }, owner);
    await Promise.all(subscribers.map((s) => s.completed));
    expect(Date.now() - deletedAt).toBeLessThan(1000);
    for (const subscription of subscribers) {
      expect(subscription.events).toEqual([{ __typename: 'SessionDeleted', sessionId }]);
    }

    // A worker publishing on the dead session's channel afterwards reaches nobody.
    await server.server.runtime.bus.publish(topics.session('org-a', sessionId), {
      __typename: 'QrCodeUpdated',
      sessionId,
      qrCode: 'too late',
      occurredAt: new Date().toISOString(),
    });
    await settle(200);
    for (const subscription of subscribers) expect(subscription.events).toHaveLength(1);
  });

  it('frames events of every size intact (7-bit, 16-bit and 64-bit WebSocket lengths)', async () => {
    const server = await startTestServer({ backend });
    const owner = await tokenFor(user('agent-1', ['agent']));
    const sessionId = await createSession(server, owner);
    const full = await subscribeWs(server, wsClient(server, owner), EVENTS, { sessionId });
    const small = await subscribeWs(server, wsClient(server, owner), TYPENAMES_ONLY, { sessionId });
    // Published as a worker would, straight onto the bus: sizes the API would refuse.
    const sizes = [10, 1_000, 70_000, 200_000];
    for (const size of sizes) {
      await server.server.runtime.bus.publish(topics.session('org-a', sessionId), {
        __typename: 'QrCodeUpdated',
        sessionId,
        qrCode: 'q'.repeat(size),
        occurredAt: new Date().toISOString(),
      });
    }
    const events = await full.waitForEvents(sizes.length);
    expect(events.map((event) => event.qrCode.length)).toEqual(sizes);
    expect(events.every((event) => /^q+$/.test(event.qrCode))).toBe(true);
    expect(await small.waitForEvents(sizes.length)).toEqual(sizes.map(() => ({ __typename: 'QrCodeUpdated' })));
  });

  it('closes a socket whose token expires with 4403 within 1 s, while the others sharing its events go on', async () => {
    const server = await startTestServer({ backend });
    const owner = await tokenFor(user('agent-1', ['agent']));
    const service = await tokenFor(user('svc-1', ['service']));
    const sessionId = await createSession(server, owner);
    const expiresAt = Math.floor(Date.now() / 1000) + 2;
    const shortLived = await subscribeWs(
      server,
      wsClient(server, await tokenFor(user('admin-1', ['admin']), expiresAt)),
      EVENTS,
      { sessionId },
    );
    const longLived = await subscribeWs(server, wsClient(server, owner), EVENTS, { sessionId });

    await ok(server, REPORT, { input: { sessionId, status: 'CONNECTING' } }, service);
    await shortLived.waitForEvents(1);
    const closed = (await shortLived.waitForError(4000)) as { code?: number };
    expect(closed.code).toBe(4403);
    expect(Date.now()).toBeLessThan(expiresAt * 1000 + 1000);

    await ok(server, REPORT, { input: { sessionId, status: 'QR_REQUIRED', qrCode: 'qr-after' } }, service);
    expect(await longLived.waitForEvents(3)).toHaveLength(3);
    await settle(100);
    expect(shortLived.events).toHaveLength(1);
  });
});

describe('the frame cache', () => {
  const schema = makeExecutableSchema({
    typeDefs: /* GraphQL */ `
      type Query {
        ok: Boolean
      }
      type Subscription {
        feed: Item
      }
      type Item {
        text: String
        count: Int
        seenBy: String
        secret: String
        later: String
      }
    `,
    resolvers: {
      Subscription: { feed: { resolve: (event: unknown) => event } },
      Item: {
        count: (_item: unknown, _args: unknown, context: { services: { count: number } }) => context.services.count,
        seenBy: (_item: unknown, _args: unknown, context: { viewer: { id: string } }) => context.viewer.id,
        secret: () => {
          throw new Error('connection string with a password');
        },
        later: async (item: { text: string }) => `${item.text} later`,
      },
    },
  });
  const services = { count: 7 };
  const argsFor = (document: ReturnType<typeof parse>, viewerId: string): ExecutionArgs => ({
    schema,
    document,
    contextValue: { viewer: { id: viewerId }, services, accessSignal: () => undefined },
  });
  const masked: unknown[] = [];
  const maskError = (error: GraphQLError) => {
    masked.push(error);
    return new GraphQLError('Unexpected error.', { path: error.path, extensions: { code: 'INTERNAL_SERVER_ERROR' } });
  };

  it('executes an event once for subscribers whose result does not depend on who they are', () => {
    const cache = new FrameCache(maskError);
    const document = parse('subscription { feed { text count } }');
    const event = { text: 'hello' };
    const payloads = ['u1', 'u2', 'u3', 'u4'].map((viewer) => {
      const args = argsFor(document, viewer);
      return (cache.payloadFor(event, args, cache.groupOf(args)) as Executed).json.toString();
    });
    expect(new Set(payloads)).toEqual(new Set([JSON.stringify({ data: { feed: { text: 'hello', count: 7 } } })]));
    expect(cache.executions).toBe(1);

    // Another event is executed again; other variables make another group.
    const args = argsFor(document, 'u1');
    cache.payloadFor({ text: 'again' }, args, cache.groupOf(args));
    expect(cache.executions).toBe(2);
    expect(cache.groupOf({ ...args, variableValues: { x: 1 } })).not.toBe(cache.groupOf(args));
  });

  it('executes per subscriber when the selection reads the viewer, so no one sees another’s view', () => {
    const cache = new FrameCache(maskError);
    const document = parse('subscription { feed { text seenBy } }');
    const event = { text: 'hello' };
    for (const viewer of ['u1', 'u2', 'u3']) {
      const args = argsFor(document, viewer);
      expect(JSON.parse((cache.payloadFor(event, args, cache.groupOf(args)) as Executed).json.toString())).toEqual({
        data: { feed: { text: 'hello', seenBy: viewer } },
      });
    }
    expect(cache.executions).toBe(3);
  });

  it('masks unexpected errors and waits for asynchronous fields', async () => {
    const cache = new FrameCache(maskError);
    const document = parse('subscription { feed { secret later } }');
    const args = argsFor(document, 'u1');
    const payload = (await cache.payloadFor({ text: 'hi' }, args, cache.groupOf(args))).json.toString();
    expect(payload).not.toContain('password');
    expect(JSON.parse(payload)).toEqual({
      data: { feed: { secret: null, later: 'hi later' } },
      errors: [
        { message: 'Unexpected error.', path: ['feed', 'secret'], extensions: { code: 'INTERNAL_SERVER_ERROR' } },
      ],
    });
    expect(masked).toHaveLength(1);
  });
});

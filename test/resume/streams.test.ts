import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { CONVERSATION_EVENTS, createConversation, people, send } from '../conversations/support.js';
import {
  dispose,
  health,
  settle,
  startCluster,
  startTestServer,
  uniquePrefix,
  type TestServer,
} from '../support/harness.js';
import { startRedisProxy } from '../support/redis-proxy.js';
import { startRedisServer } from '../support/redis-server.js';
import { gate, liveOn, openEventStream, resumingClient, type Received } from './support.js';

const bin = inject('redisServerBin');

const bodies = (received: Received[] | undefined) => (received ?? []).map(({ event }) => event.message?.body);

describe('resuming an SSE stream with Last-Event-ID', () => {
  it('gets every event after that id on another instance, each with its id, then live ones', async () => {
    const [a, b] = await startCluster(2);
    const t = await people();
    const { id } = await createConversation(a!, t.alice, ['bob']);
    const operation = { query: CONVERSATION_EVENTS, variables: { id } };
    const first = await openEventStream(a!, t.bob, operation);
    expect(first.status).toBe(200);
    await liveOn(a!, 1);
    await send(a!, t.alice, id, 'one');
    const [one] = await first.waitForEvents(1);
    expect(one!.id).toMatch(/^[A-Za-z0-9_-]+\.\d+-\d+$/);
    expect(JSON.parse(one!.data).extensions).toEqual({ offset: one!.id });
    first.close();

    await send(b!, t.alice, id, 'two');
    await send(a!, t.alice, id, 'three');
    const resumed = await openEventStream(b!, t.bob, operation, one!.id);
    await resumed.waitForEvents(2);
    await send(a!, t.alice, id, 'four');
    const events = await resumed.waitForEvents(3);
    await settle(300);
    expect(resumed.events.map((event) => JSON.parse(event.data).data.conversationEvents.message.body)).toEqual([
      'two',
      'three',
      'four',
    ]);
    const ids = events.map((event) => event.id);
    expect(new Set(ids).size).toBe(3);
    expect(ids.every((eventId) => eventId !== undefined && eventId > one!.id!)).toBe(true);
  });

  it('ignores a malformed Last-Event-ID: the stream is live only', async () => {
    const server = await startTestServer();
    const t = await people();
    const { id } = await createConversation(server, t.alice, ['bob']);
    await send(server, t.alice, id, 'before');
    const stream = await openEventStream(
      server,
      t.bob,
      { query: CONVERSATION_EVENTS, variables: { id } },
      'not-an-offset, 1',
    );
    expect(stream.status).toBe(200);
    await liveOn(server, 1);
    await send(server, t.alice, id, 'after');
    await stream.waitForEvents(1);
    await settle(200);
    expect(stream.events.map((event) => JSON.parse(event.data).data.conversationEvents.message.body)).toEqual([
      'after',
    ]);
  });
});

describe('resuming on the embedded engine (no Redis)', () => {
  it('replays what a dropped socket missed on the same server', async () => {
    const server = await startTestServer({ backend: 'memory' });
    const t = await people();
    const { id: conversationId } = await createConversation(server, t.alice, ['bob']);
    let target: Promise<TestServer> | TestServer = server;
    const bob = resumingClient(t.bob, { target: () => target });
    const id = bob.subscribe(CONVERSATION_EVENTS, { id: conversationId });
    await liveOn(server, 1);
    await send(server, t.alice, conversationId, 'one');
    await bob.waitForEvents(id, 1);
    const reconnect = gate<TestServer>();
    target = reconnect.opened;
    bob.drop();
    await send(server, t.alice, conversationId, 'two');
    reconnect.open(server);
    expect(await bob.waitForAck(2)).toEqual({ resume: { recovered: { [id]: true } } });
    await bob.waitForEvents(id, 2);
    await send(server, t.alice, conversationId, 'three');
    await bob.waitForEvents(id, 3);
    await settle(200);
    expect(bodies(bob.received.get(id))).toEqual(['one', 'two', 'three']);
  });
});

describe('a replay longer than SUBSCRIPTION_MAX_QUEUED_EVENTS', () => {
  it('is delivered whole, then the live events, without cutting the client off as a slow consumer', async () => {
    const server = await startTestServer({ env: { SUBSCRIPTION_MAX_QUEUED_EVENTS: '3' } });
    const t = await people();
    const { id: conversationId } = await createConversation(server, t.alice, ['bob']);
    let target: Promise<TestServer> | TestServer = server;
    const bob = resumingClient(t.bob, { target: () => target });
    const id = bob.subscribe(CONVERSATION_EVENTS, { id: conversationId });
    await liveOn(server, 1);
    await send(server, t.alice, conversationId, 'm0');
    await bob.waitForEvents(id, 1);
    const reconnect = gate<TestServer>();
    target = reconnect.opened;
    bob.drop();
    const expected = Array.from({ length: 12 }, (_, i) => `m${i}`);
    for (const body of expected.slice(1, 10)) await send(server, t.alice, conversationId, body);
    reconnect.open(server);
    await bob.waitForAck(2);
    for (const body of expected.slice(10)) await send(server, t.alice, conversationId, body);
    await bob.waitForEvents(id, expected.length);
    await settle(200);
    expect(bodies(bob.received.get(id))).toEqual(expected);
    expect(bob.acks).toHaveLength(2);
  });
});

describe('with RESUME_WINDOW_SECONDS=0', () => {
  it('sends no offsets, keeps no history, and answers every resumed id recovered: false', async () => {
    const prefix = uniquePrefix();
    const server = await startTestServer({ backend: 'redis', prefix, env: { RESUME_WINDOW_SECONDS: '0' } });
    const t = await people();
    const { id: conversationId } = await createConversation(server, t.alice, ['bob']);
    let target: Promise<TestServer> | TestServer = server;
    const bob = resumingClient(t.bob, { target: () => target });
    const id = bob.subscribe(CONVERSATION_EVENTS, { id: conversationId });
    await liveOn(server, 1);
    await send(server, t.alice, conversationId, 'one');
    const [one] = await bob.waitForEvents(id, 1);
    expect(one!.offset).toBeUndefined();

    const reconnect = gate<TestServer>();
    target = reconnect.opened;
    bob.drop();
    bob.lastSeen[id] = 'abc.1-0';
    bob.lastSeen['never-seen'] = 'nonsense';
    await send(server, t.alice, conversationId, 'two');
    reconnect.open(server);
    expect(await bob.waitForAck(2)).toEqual({ resume: { recovered: { [id]: false, 'never-seen': false } } });
    await liveOn(server, 1);
    await send(server, t.alice, conversationId, 'three');
    await bob.waitForEvents(id, 2);
    await settle(200);
    expect(bodies(bob.received.get(id))).toEqual(['one', 'three']);

    const redis = new Redis(inject('redisUrl'));
    dispose(() => redis.quit());
    expect(await redis.keys(`${prefix}{o:*}history*`)).toEqual([]);
  });
});

describe('an instance with RESUME_WINDOW_SECONDS=0 beside one with resume on', () => {
  it('sends its subscribers no offsets, even for events the other instance recorded with one', async () => {
    const prefix = uniquePrefix();
    const off = await startTestServer({ backend: 'redis', prefix, env: { RESUME_WINDOW_SECONDS: '0' } });
    const on = await startTestServer({ backend: 'redis', prefix });
    const t = await people();
    const { id: conversationId } = await createConversation(on, t.alice, ['bob']);
    const bob = resumingClient(t.bob, { target: () => off });
    const id = bob.subscribe(CONVERSATION_EVENTS, { id: conversationId });
    await liveOn(off, 1);
    await send(on, t.alice, conversationId, 'from the other instance');
    const [event] = await bob.waitForEvents(id, 1);
    expect(event!.event.message.body).toBe('from the other instance');
    expect(event!.offset).toBeUndefined();
  });
});

describe.skipIf(!bin)('Redis pub/sub connections killed under a burst', () => {
  it('loses none of 50 messages for a subscriber', async () => {
    const redis = await startRedisServer(bin!);
    dispose(() => redis.stop());
    const env = { REDIS_URL: redis.url, REDIS_PREFIX: uniquePrefix() };
    const a = await startTestServer({ env });
    const b = await startTestServer({ env });
    const t = await people();
    const { id: conversationId } = await createConversation(a, t.alice, ['bob']);
    const bob = resumingClient(t.bob, { target: () => a });
    const id = bob.subscribe(CONVERSATION_EVENTS, { id: conversationId });
    await liveOn(a, 1);
    const admin = new Redis(redis.url);
    dispose(() => admin.quit());

    const expected = Array.from({ length: 50 }, (_, i) => `m${i}`);
    let killed = 0;
    for (const [i, body] of expected.entries()) {
      if (i % 12 === 5) killed += Number(await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub'));
      await send(b, t.alice, conversationId, body);
    }
    expect(killed).toBeGreaterThan(0);
    await bob.waitForEvents(id, expected.length, 20_000);
    await settle(300);
    expect(bodies(bob.received.get(id))).toEqual(expected);
    // The socket never dropped: the server caught up by itself.
    expect(bob.acks).toHaveLength(1);
  });

  it('catches up a channel that had heard nothing yet when the instance lost Redis', async () => {
    const redis = await startRedisServer(bin!);
    dispose(() => redis.stop());
    const proxy = await startRedisProxy(redis);
    dispose(() => proxy.close());
    const prefix = uniquePrefix();
    const a = await startTestServer({ env: { REDIS_URL: proxy.url, REDIS_PREFIX: prefix } });
    const b = await startTestServer({ env: { REDIS_URL: redis.url, REDIS_PREFIX: prefix } });
    const t = await people();
    const { id: conversationId } = await createConversation(b, t.alice, ['bob']);
    const bob = resumingClient(t.bob, { target: () => a });
    const id = bob.subscribe(CONVERSATION_EVENTS, { id: conversationId });
    await liveOn(a, 1);

    // Before the subscription's first event, the instance loses Redis; three are published meanwhile.
    proxy.cut();
    const missed = ['m0', 'm1', 'm2'];
    for (const body of missed) await send(b, t.alice, conversationId, body);
    proxy.restore();
    const deadline = Date.now() + 10_000;
    while ((await health(a)).status !== 200 && Date.now() < deadline) await settle(50);
    await send(b, t.alice, conversationId, 'live');

    await bob.waitForEvents(id, missed.length + 1, 10_000);
    await settle(300);
    expect(bodies(bob.received.get(id))).toEqual([...missed, 'live']);
    expect(bob.acks).toHaveLength(1);
  }, 40_000);
});

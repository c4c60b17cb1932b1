import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { startChildServer } from '../support/child-server.js';
import {
  dispose,
  health,
  settle,
  startCluster,
  startTestServer,
  uniquePrefix,
  type TestServer,
} from '../support/harness.js';
import {
  CONVERSATION_EVENTS,
  createConversation,
  INBOX_EVENTS,
  people,
  send,
  TYPING,
} from '../conversations/support.js';
import { ok } from '../support/harness.js';
import { rawSocket } from '../hardening/raw-ws.js';
import { expectOrderedOffsets, gate, liveOn, resumingClient, type Received } from './support.js';

/** The bodies of the messages added, in the order received. */
const bodies = (received: Received[] | undefined) =>
  (received ?? []).map(({ event }) => (event.__typename === 'MessageAdded' ? event.message.body : event.__typename));

describe('resuming a WebSocket subscription after a reconnect', () => {
  it('gets exactly the missed events on the other instance after a socket dropped without a close, then live ones', async () => {
    const [a, b] = await startCluster(2);
    const t = await people();
    const { id: conversationId } = await createConversation(a!, t.alice, ['bob']);
    let target: Promise<TestServer> | TestServer = a!;
    const bob = resumingClient(t.bob, { target: () => target });
    const id = bob.subscribe(CONVERSATION_EVENTS, { id: conversationId });
    await liveOn(a!, 1);
    await send(b!, t.alice, conversationId, 'one');
    await send(a!, t.alice, conversationId, 'two');
    await bob.waitForEvents(id, 2);
    expect(await bob.waitForAck(1)).toBeUndefined();

    // The network goes away: no close frame. Bob's client comes back only once two events went by, on B.
    const reconnect = gate<TestServer>();
    target = reconnect.opened;
    bob.drop();
    await send(a!, t.alice, conversationId, 'three');
    await send(b!, t.alice, conversationId, 'four');
    reconnect.open(b!);

    expect(await bob.waitForAck(2)).toEqual({ resume: { recovered: { [id]: true } } });
    await bob.waitForEvents(id, 4);
    await send(a!, t.alice, conversationId, 'five');
    await bob.waitForEvents(id, 5);
    await settle(300);
    const received = bob.received.get(id)!;
    expect(bodies(received)).toEqual(['one', 'two', 'three', 'four', 'five']);
    expectOrderedOffsets(received);
  });

  it('gets every event of a burst when its instance is killed mid-stream and it reconnects to another', async () => {
    const prefix = uniquePrefix();
    const survivor = await startTestServer({ backend: 'redis', prefix });
    const doomed = await startChildServer({ redisUrl: inject('redisUrl'), prefix });
    const t = await people();
    const { id: conversationId } = await createConversation(survivor, t.alice, ['bob']);
    let target: Pick<TestServer, 'wsUrl'> = doomed;
    const bob = resumingClient(t.bob, { target: () => target as TestServer });
    const id = bob.subscribe(CONVERSATION_EVENTS, { id: conversationId });
    await liveOn(doomed, 1);

    const expected = Array.from({ length: 30 }, (_, i) => `m${i}`);
    const sending = (async () => {
      for (const body of expected) await send(survivor, t.alice, conversationId, body);
    })();
    await bob.waitForEvents(id, 5);
    target = survivor;
    await doomed.kill();
    await sending;
    await bob.waitForEvents(id, expected.length, 20_000);
    await settle(300);
    const received = bob.received.get(id)!;
    expect(bodies(received)).toEqual(expected);
    expectOrderedOffsets(received);
    expect(
      bob.acks
        .slice(1)
        .every((ack) => JSON.stringify(ack) === JSON.stringify({ resume: { recovered: { [id]: true } } })),
    ).toBe(true);
  }, 60_000);

  it('is told recovered: false past the window, and goes on live without a replay', async () => {
    const [a, b] = await startCluster(2, { RESUME_WINDOW_SECONDS: '1' });
    const t = await people();
    const { id: conversationId } = await createConversation(a!, t.alice, ['bob']);
    let target: Promise<TestServer> | TestServer = a!;
    const bob = resumingClient(t.bob, { target: () => target });
    const id = bob.subscribe(CONVERSATION_EVENTS, { id: conversationId });
    await liveOn(a!, 1);
    await send(a!, t.alice, conversationId, 'seen');
    await bob.waitForEvents(id, 1);

    const reconnect = gate<TestServer>();
    target = reconnect.opened;
    bob.drop();
    await send(a!, t.alice, conversationId, 'missed');
    await settle(2_500);
    reconnect.open(b!);
    expect(await bob.waitForAck(2)).toEqual({ resume: { recovered: { [id]: false } } });
    await liveOn(b!, 1);
    await send(b!, t.alice, conversationId, 'after');
    await bob.waitForEvents(id, 2);
    await settle(300);
    expect(bodies(bob.received.get(id))).toEqual(['seen', 'after']);
  });

  it('replays, for an offset taken from another user, only what the new viewer may see', async () => {
    const [a] = await startCluster(1);
    const t = await people();
    const secret = await createConversation(a!, t.alice, ['bob']);
    const shared = await createConversation(a!, t.alice, ['carol']);
    let target: Promise<TestServer> | TestServer = a!;
    const bob = resumingClient(t.bob, { target: () => a! });
    const bobId = bob.subscribe(CONVERSATION_EVENTS, { id: secret.id });
    const carol = resumingClient(t.carol, { target: () => target });
    const carolId = carol.subscribe(CONVERSATION_EVENTS, { id: shared.id });
    const carolInbox = carol.subscribe(INBOX_EVENTS);
    await liveOn(a!, 3);
    await send(a!, t.alice, secret.id, 'before');
    const [bobsFirst] = await bob.waitForEvents(bobId, 1);

    const reconnect = gate<TestServer>();
    target = reconnect.opened;
    carol.drop();
    await send(a!, t.alice, secret.id, 'secret for bob');
    await ok(a!, TYPING, { id: shared.id, isTyping: true }, t.carol);
    await send(a!, t.alice, shared.id, 'for carol');
    // Carol's client claims Bob's offset for both of its subscriptions.
    carol.lastSeen[carolId] = bobsFirst!.offset!;
    carol.lastSeen[carolInbox] = bobsFirst!.offset!;
    reconnect.open(a!);
    await carol.waitForAck(2);
    await carol.waitForEvents(carolId, 1);
    await settle(300);
    // Her own typing is not sent back to her; Bob's conversation never reaches her.
    expect(bodies(carol.received.get(carolId))).toEqual(['for carol']);
    const inbox = (carol.received.get(carolInbox) ?? []).map(({ event }) => event);
    expect(inbox.length).toBeGreaterThan(0);
    expect(
      inbox.every((event) => (event.conversationId ?? event.conversation?.id) === shared.id),
      JSON.stringify(inbox),
    ).toBe(true);
    expect(bodies(bob.received.get(bobId))).toEqual(['before', 'secret for bob']);
  });

  it('delivers replayed and concurrently published events without a gap or a duplicate', async () => {
    const [a, b] = await startCluster(2);
    const t = await people();
    const { id: conversationId } = await createConversation(a!, t.alice, ['bob']);
    let target: Promise<TestServer> | TestServer = a!;
    const bob = resumingClient(t.bob, { target: () => target });
    const id = bob.subscribe(CONVERSATION_EVENTS, { id: conversationId });
    await liveOn(a!, 1);
    await send(a!, t.alice, conversationId, 'm0');
    await bob.waitForEvents(id, 1);

    const reconnect = gate<TestServer>();
    target = reconnect.opened;
    bob.drop();
    const expected = Array.from({ length: 40 }, (_, i) => `m${i}`);
    // Half are sent while Bob is away, the rest while he reconnects and his replay runs.
    for (const body of expected.slice(1, 20)) await send(a!, t.alice, conversationId, body);
    const sending = (async () => {
      for (const body of expected.slice(20)) await send(a!, t.alice, conversationId, body);
    })();
    reconnect.open(b!);
    await sending;
    await bob.waitForEvents(id, expected.length, 20_000);
    await settle(300);
    const received = bob.received.get(id)!;
    expect(bodies(received)).toEqual(expected);
    expectOrderedOffsets(received);
  });

  it('answers junk in connectionParams.resume with recovered: false, never an error, and serves the socket', async () => {
    const [a] = await startCluster(1);
    const t = await people();
    const { id: conversationId } = await createConversation(a!, t.alice, ['bob']);
    const longId = 'x'.repeat(200);
    const cases: [resume: unknown, recovered: Record<string, boolean>][] = [
      ['junk', {}],
      [{ lastSeen: ['a', 'b'] }, {}],
      [{ lastSeen: null }, {}],
      [
        {
          lastSeen: {
            n: 12,
            o: { offset: 1 },
            e: '',
            long: 'a'.repeat(500),
            forged: 'x.1-0\nid: 2',
            [longId]: 'abc.1-0',
          },
        },
        { n: false, o: false, e: false, long: false, forged: false, [longId]: false },
      ],
    ];
    for (const [resume, recovered] of cases) {
      const socket = await rawSocket(a!);
      socket.send({ type: 'connection_init', payload: { authorization: `Bearer ${t.bob}`, resume } });
      const ack = await socket.waitFor((message) => message.type === 'connection_ack');
      expect(ack.payload).toEqual({ resume: { recovered } });
      socket.send({
        id: 'live',
        type: 'subscribe',
        payload: { query: CONVERSATION_EVENTS, variables: { id: conversationId } },
      });
      await liveOn(a!, 1);
      await send(a!, t.alice, conversationId, 'hello');
      const next = await socket.waitFor((message) => message.type === 'next');
      expect(next.payload.data.conversationEvents.message.body).toBe('hello');
      socket.ws.terminate();
      await socket.closed;
      // Wait for the server to let go of the subscription before the next case counts.
      const deadline = Date.now() + 5_000;
      while ((await health(a!)).body.subscriptions > 0 && Date.now() < deadline) await settle(20);
    }
  });

  it('refuses an offset ahead of the organisation (forged) and goes on live, nothing held back', async () => {
    const [a] = await startCluster(1);
    const t = await people();
    const { id: conversationId } = await createConversation(a!, t.alice, ['bob']);
    let target: Promise<TestServer> | TestServer = a!;
    const bob = resumingClient(t.bob, { target: () => target });
    const id = bob.subscribe(CONVERSATION_EVENTS, { id: conversationId });
    await liveOn(a!, 1);
    await send(a!, t.alice, conversationId, 'one');
    const [one] = await bob.waitForEvents(id, 1);
    const reconnect = gate<TestServer>();
    target = reconnect.opened;
    bob.drop();
    bob.lastSeen[id] = `${one!.offset!.split('.')[0]}.99999999999999-0`;
    reconnect.open(a!);
    expect(await bob.waitForAck(2)).toEqual({ resume: { recovered: { [id]: false } } });
    await liveOn(a!, 1);
    await send(a!, t.alice, conversationId, 'two');
    await bob.waitForEvents(id, 2);
    expect(bodies(bob.received.get(id))).toEqual(['one', 'two']);
  });

  it('lets no forged offset heard over Redis silence a subscription: later events still arrive', async () => {
    const [a] = await startCluster(1);
    const t = await people();
    const { id: conversationId } = await createConversation(a!, t.alice, ['bob']);
    const redis = new Redis(inject('redisUrl'));
    const sniffer = new Redis(inject('redisUrl'));
    dispose(() => redis.quit());
    dispose(() => sniffer.quit());
    const captured = new Promise<[string, string]>((resolve) =>
      sniffer.on('pmessage', (_pattern, channel: string, message: string) => resolve([channel, message])),
    );
    await sniffer.psubscribe(`${a!.config.redisPrefix}*org:*:conversation:*`);
    const bob = resumingClient(t.bob, { target: () => a! });
    const id = bob.subscribe(CONVERSATION_EVENTS, { id: conversationId });
    await liveOn(a!, 1);
    await send(a!, t.alice, conversationId, 'one');
    await bob.waitForEvents(id, 1);
    // A well-formed event, as a server published it, but placed far ahead of every clock.
    const [channel, message] = await captured;
    const { offset, payload } = JSON.parse(message) as { offset: string; payload: unknown };
    await redis.publish(channel, JSON.stringify({ offset: `${offset.split('.')[0]}.999999999999999-0`, payload }));
    await bob.waitForEvents(id, 2);
    await send(a!, t.alice, conversationId, 'two');
    const received = await bob.waitForEvents(id, 3);
    expect(bodies(received).at(-1)).toBe('two');
    expect(received.at(-1)!.offset).toBeDefined();
  });

  it('puts the same offset on every subscriber of one event, the shared fan-out path included', async () => {
    const [a] = await startCluster(1);
    const t = await people();
    const { id: conversationId } = await createConversation(a!, t.alice, ['bob', 'carol']);
    const clients = [t.alice, t.bob, t.carol, t.bob].map((token) => resumingClient(token, { target: () => a! }));
    const ids = clients.map((client) => client.subscribe(CONVERSATION_EVENTS, { id: conversationId }));
    await liveOn(a!, clients.length);
    await send(a!, t.alice, conversationId, 'to everyone');
    const offsets = await Promise.all(
      clients.map(async (client, i) => (await client.waitForEvents(ids[i]!, 1))[0]!.offset),
    );
    expect(offsets[0]).toMatch(/^[A-Za-z0-9_-]+\.\d+-\d+$/);
    expect(new Set(offsets).size).toBe(1);
  });
});

import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { createMemoryEventBus } from '../../src/events/memory.js';
import { offsetOf, parseOffset } from '../../src/events/offsets.js';
import { createRedisEventRecorder, PUBLISH_EVENTS, publishScope } from '../../src/events/record-redis.js';
import { keySpace } from '../../src/lib/keys.js';
import { subscribe } from '../../src/events/subscribe.js';
import { topics } from '../../src/events/topics.js';
import type { SessionEvent } from '../../src/sessions/events.js';
import { CONVERSATION_EVENTS, createConversation, people, send } from '../conversations/support.js';
import { rawSocket, sleep } from '../hardening/raw-ws.js';
import { dispose, settle, startCluster, type TestServer } from '../support/harness.js';
import { expectOrderedOffsets, gate, liveOn, openEventStream, resumingClient } from './support.js';

/** The `{ channel, payload }` of the first message the server publishes under `pattern`, as Redis carries it. */
async function firstPublished(pattern: string) {
  const sniffer = new Redis(inject('redisUrl'));
  dispose(() => sniffer.quit());
  const captured = new Promise<[string, string]>((resolve) =>
    sniffer.on('pmessage', (_p, channel: string, message: string) => resolve([channel, message])),
  );
  await sniffer.psubscribe(pattern);
  return captured.then(([channel, message]) => ({
    channel,
    payload: (JSON.parse(message) as { payload: unknown }).payload,
  }));
}

const qr = (n: number, sessionId = 's1'): SessionEvent => ({
  __typename: 'QrCodeUpdated',
  sessionId,
  qrCode: `qr-${n}`,
  occurredAt: new Date().toISOString(),
});

/** The offset of a first event published on `channel` of `bus`, to resume after. */
async function offsetAfterOne(bus: ReturnType<typeof createMemoryEventBus>, channel: string) {
  const first = await subscribe(bus, channel);
  await bus.publish(channel, qr(0));
  const after = parseOffset(offsetOf((await first.next()).value))!;
  await first.return();
  return after;
}

/** Reads `subscription` until it ends: what it gave, and the error it ended with. */
async function drain(subscription: AsyncIterator<unknown>, codes: string[] = []) {
  try {
    for (let step = await subscription.next(); !step.done; step = await subscription.next()) {
      codes.push((step.value as { qrCode: string }).qrCode);
    }
    return { codes, error: undefined };
  } catch (error) {
    return { codes, error };
  }
}

describe('a replay longer than a page', () => {
  it('delivers more than 10,000 missed events over WebSocket, in order and exactly once, then live ones', async () => {
    const [a] = await startCluster(1);
    const t = await people();
    const { id: conversationId } = await createConversation(a!, t.alice, ['bob']);
    const published = firstPublished(`${a!.config.redisPrefix}*org:*:conversation:*`);
    let target: Promise<TestServer> | TestServer = a!;
    const bob = resumingClient(t.bob, { target: () => target });
    const id = bob.subscribe(CONVERSATION_EVENTS, { id: conversationId });
    await liveOn(a!, 1);
    await send(a!, t.alice, conversationId, 'one');
    await bob.waitForEvents(id, 1);
    const { channel, payload } = await published;

    const reconnect = gate<TestServer>();
    target = reconnect.opened;
    bob.drop();
    // 11,000 events recorded as the server records them, in pipelined batches (mutations would take minutes).
    const redis = new Redis(inject('redisUrl'));
    dispose(() => redis.quit());
    const record = createRedisEventRecorder(keySpace(a!.config.redisPrefix, false), 300_000);
    const name = channel.slice(channel.indexOf('org:'));
    const missed = 11_000;
    for (let i = 0; i < missed / 1000; i++) {
      const events = Array.from({ length: 1000 }, () => ({ channel: name, payload }));
      await redis.eval(PUBLISH_EVENTS, 0, ...record(events, publishScope(events)));
    }
    reconnect.open(a!);
    expect(await bob.waitForAck(2)).toEqual({ resume: { recovered: { [id]: true } } });
    await bob.waitForEvents(id, 1 + missed, 60_000);
    await liveOn(a!, 1);
    await send(a!, t.alice, conversationId, 'two');
    await bob.waitForEvents(id, 1 + missed + 1, 10_000);
    await settle(300);

    const received = bob.received.get(id)!;
    expect(received).toHaveLength(1 + missed + 1);
    expectOrderedOffsets(received);
    expect(received.at(-1)!.event.message.body).toBe('two');
    expect(received.slice(1, -1).every(({ event }) => event.message.body === 'one')).toBe(true);
  }, 90_000);
});

describe('a paged replay through subscribe()', () => {
  it('merges the pages of several channels in offset order, each event once, then the live ones', async () => {
    const bus = createMemoryEventBus({ resumeWindowMs: 60_000 });
    dispose(() => bus.close());
    const channels = [topics.session('org-a', 's1'), topics.session('org-a', 's2')];
    const after = await offsetAfterOne(bus, channels[0]!);
    // Uneven: s2 has one event in three, so the channels' pages end at different offsets.
    for (let n = 1; n <= 1500; n++) await bus.publish(channels[n % 3 === 0 ? 1 : 0]!, qr(n, n % 3 === 0 ? 's2' : 's1'));
    const resumed = await subscribe(bus, channels, { after, maxQueued: 10 });
    await bus.publish(channels[1]!, qr(1501, 's2'));
    const codes: string[] = [];
    while (codes.length < 1501) codes.push(((await resumed.next()).value as { qrCode: string }).qrCode);
    expect(codes).toEqual(Array.from({ length: 1501 }, (_, i) => `qr-${i + 1}`));
    await bus.publish(channels[0]!, qr(1502));
    expect(((await resumed.next()).value as { qrCode: string }).qrCode).toBe('qr-1502');
    await resumed.return();
  });

  it('ends as a slow consumer when more live events than maxQueued arrive while the replay is read', async () => {
    const bus = createMemoryEventBus({ resumeWindowMs: 60_000 });
    dispose(() => bus.close());
    const channel = topics.session('org-a', 's1');
    const after = await offsetAfterOne(bus, channel);
    for (let n = 1; n <= 1200; n++) await bus.publish(channel, qr(n));
    const resumed = await subscribe(bus, channel, { after, maxQueued: 3 });
    const codes = [((await resumed.next()).value as { qrCode: string }).qrCode];
    for (let n = 1201; n <= 1204; n++) await bus.publish(channel, qr(n));
    const { error } = await drain(resumed, codes);
    expect(error).toMatchObject({ extensions: { code: 'SLOW_CONSUMER' } });
    // What it did get came in order: its last offset is where it resumes from, nothing skipped.
    expect(codes).toEqual(Array.from({ length: codes.length }, (_, i) => `qr-${i + 1}`));
  });
});

describe('a resumed subscription whose history is gone', () => {
  it('fails with RESUME_FAILED when the window passed between the ack and the subscribe, rather than going live', async () => {
    const [a] = await startCluster(1, { RESUME_WINDOW_SECONDS: '2' });
    const t = await people();
    const { id: conversationId } = await createConversation(a!, t.alice, ['bob']);
    const bob = resumingClient(t.bob, { target: () => a! });
    const id = bob.subscribe(CONVERSATION_EVENTS, { id: conversationId });
    await liveOn(a!, 1);
    await send(a!, t.alice, conversationId, 'seen');
    const [seen] = await bob.waitForEvents(id, 1);
    bob.drop();

    const socket = await rawSocket(a!);
    socket.send({
      type: 'connection_init',
      payload: { authorization: `Bearer ${t.bob}`, resume: { lastSeen: { [id]: seen!.offset } } },
    });
    const ack = await socket.waitFor((message) => message.type === 'connection_ack');
    expect(ack.payload).toEqual({ resume: { recovered: { [id]: true } } });
    // Past the window, and the organisation has moved on: what followed `seen` may be trimmed.
    await sleep(2_500);
    await send(a!, t.alice, conversationId, 'missed');
    socket.send({ type: 'subscribe', id, payload: { query: CONVERSATION_EVENTS, variables: { id: conversationId } } });
    // A subscription that cannot start answers its errors in a `next`, then `complete` (graphql-ws).
    await socket.waitFor((message) => message.id === id && message.type === 'complete', 10_000);
    const answers = socket.messages.filter((message) => message.id === id);
    expect(answers.map(({ type }) => type)).toEqual(['next', 'complete']);
    expect(answers[0]!.payload.data ?? null).toBeNull();
    expect(answers[0]!.payload.errors).toEqual([expect.objectContaining({ extensions: { code: 'RESUME_FAILED' } })]);
  }, 30_000);

  it('ends an SSE stream whose Last-Event-ID is past the window with RESUME_FAILED, not a live-only stream', async () => {
    const [a] = await startCluster(1, { RESUME_WINDOW_SECONDS: '1' });
    const t = await people();
    const { id } = await createConversation(a!, t.alice, ['bob']);
    const operation = { query: CONVERSATION_EVENTS, variables: { id } };
    const first = await openEventStream(a!, t.bob, operation);
    await liveOn(a!, 1);
    await send(a!, t.alice, id, 'seen');
    const [seen] = await first.waitForEvents(1);
    first.close();
    await sleep(1_500);
    await send(a!, t.alice, id, 'missed');
    const resumed = await openEventStream(a!, t.bob, operation, seen!.id);
    const [answer] = await resumed.waitForEvents(1);
    const result = JSON.parse(answer!.data) as { data?: unknown; errors?: unknown[] };
    expect(result.data ?? null).toBeNull();
    expect(result.errors).toEqual([expect.objectContaining({ extensions: { code: 'RESUME_FAILED' } })]);
  }, 30_000);

  it('ends with RESUME_FAILED when a later page was trimmed while the subscriber read the first', async () => {
    const bus = createMemoryEventBus({ resumeWindowMs: 1_000 });
    dispose(() => bus.close());
    const channel = topics.session('org-a', 's1');
    const after = await offsetAfterOne(bus, channel);
    for (let n = 1; n <= 1200; n++) await bus.publish(channel, qr(n));

    const resumed = await subscribe(bus, channel, { after });
    const codes: string[] = [((await resumed.next()).value as { qrCode: string }).qrCode];
    await sleep(1_300);
    await bus.publish(channel, qr(1201));
    const { error: failure } = await drain(resumed, codes);
    // The first page was delivered whole, in order; then the subscriber is told, not left with a gap.
    expect(codes).toEqual(Array.from({ length: codes.length }, (_, i) => `qr-${i + 1}`));
    expect(codes.length).toBeLessThan(1200);
    expect(failure).toMatchObject({ extensions: { code: 'RESUME_FAILED' } });
  });
});

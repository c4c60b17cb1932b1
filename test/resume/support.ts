import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { expect } from 'vitest';
import { dispose, health, settle, type TestServer } from '../support/harness.js';

/** What a `next` message's payload looks like on the wire. */
interface NextPayload {
  data?: Record<string, unknown> | null;
  errors?: unknown[];
  extensions?: { offset?: unknown };
}

/** One event a resuming client received: the subscription's single field, and its offset. */
export interface Received {
  event: Record<string, any>;
  offset: string | undefined;
}

/**
 * A graphql-ws client that resumes as the contract says: it remembers the
 * last `extensions.offset` per subscription id (from `on.message`) and sends
 * them as `connectionParams.resume.lastSeen` on every connect. The test
 * decides where (and when) it reconnects through `target`, and can drop its
 * socket without a close (`drop`: the TCP connection is destroyed).
 */
export function resumingClient(token: string, options: { target: () => Promise<TestServer> | TestServer }) {
  const lastSeen: Record<string, string> = {};
  /** The `connection_ack` payload of each connection, in order. */
  const acks: unknown[] = [];
  /** Received events per subscription id, in order. */
  const received = new Map<string, Received[]>();
  let socket: WebSocket | undefined;
  let changed: () => void = () => {};
  class TrackedWebSocket extends WebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args);
      socket = this as WebSocket;
      // A dropped socket may still report errors: they are expected here.
      this.on('error', () => {});
    }
  }
  let ids = 0;
  const client: Client = createClient({
    url: async () => (await options.target()).wsUrl,
    webSocketImpl: TrackedWebSocket,
    lazy: false,
    retryAttempts: 1000,
    retryWait: () => new Promise((resolve) => setTimeout(resolve, 20)),
    shouldRetry: () => true,
    onNonLazyError: () => {},
    generateID: () => `sub-${++ids}`,
    connectionParams: () => ({
      authorization: `Bearer ${token}`,
      ...(Object.keys(lastSeen).length > 0 ? { resume: { lastSeen: { ...lastSeen } } } : {}),
    }),
    on: {
      connected: (_socket, payload) => {
        acks.push(payload);
        changed();
      },
      message: (message) => {
        if (message.type !== 'next') return;
        const payload = message.payload as NextPayload;
        const offset = typeof payload.extensions?.offset === 'string' ? payload.extensions.offset : undefined;
        if (offset) lastSeen[message.id] = offset;
        const list = received.get(message.id) ?? [];
        received.set(message.id, list);
        if (payload.data) list.push({ event: Object.values(payload.data)[0] as Record<string, any>, offset });
        changed();
      },
    },
  });
  dispose(() => client.dispose());

  /** Resolves with `value()` once `ready()`. */
  const waitFor = <T>(ready: () => boolean, value: () => T, what: string, timeoutMs = 10_000) =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        changed = () => {};
        reject(new Error(`Timed out waiting for ${what}; received ${JSON.stringify([...received])}`));
      }, timeoutMs);
      changed = () => {
        if (!ready()) return;
        clearTimeout(timer);
        changed = () => {};
        resolve(value());
      };
      changed();
    });

  return {
    client,
    lastSeen,
    acks,
    received,
    /** Subscribes; events land in `received` under the returned id. */
    subscribe(query: string, variables: Record<string, unknown> = {}) {
      const id = `sub-${ids + 1}`;
      const stop = client.subscribe({ query, variables }, { next: () => {}, error: () => {}, complete: () => {} });
      dispose(stop);
      return id;
    },
    /** Waits for `count` events on subscription `id`. */
    waitForEvents: (id: string, count: number, timeoutMs?: number) =>
      waitFor(
        () => (received.get(id)?.length ?? 0) >= count,
        () => received.get(id)!.slice(),
        `${count} events on ${id}`,
        timeoutMs,
      ),
    /** Waits for the `count`th connection's ack payload. */
    waitForAck: (count: number, timeoutMs?: number) =>
      waitFor(
        () => acks.length >= count,
        () => acks[count - 1],
        `connection ${count}`,
        timeoutMs,
      ),
    /** Destroys the TCP connection: no close frame, as when a network goes away. */
    drop() {
      socket?.terminate();
    },
  };
}

/** Waits until `server` counts at least `count` live subscriptions. */
export async function liveOn(server: Pick<TestServer, 'url'>, count: number) {
  const deadline = Date.now() + 10_000;
  while ((await health(server as TestServer)).body.subscriptions < count) {
    if (Date.now() > deadline) throw new Error(`fewer than ${count} subscriptions on ${server.url}`);
    await settle(20);
  }
}

/** Every offset is there, and they strictly increase as the client received them. */
export function expectOrderedOffsets(received: Received[]) {
  const offsets = received.map(({ offset }) => offset);
  expect(offsets.every((offset) => typeof offset === 'string')).toBe(true);
  const positions = offsets.map((offset) => offset!.split('.')[1]!.split('-').map(Number) as [number, number]);
  for (let i = 1; i < positions.length; i++) {
    const [ms, seq] = positions[i]!;
    const [previousMs, previousSeq] = positions[i - 1]!;
    expect(ms > previousMs || (ms === previousMs && seq > previousSeq), `offset ${i} after ${i - 1}`).toBe(true);
  }
}

/** A gate the test opens: until then, whoever awaits it waits. */
export function gate<T>() {
  let open!: (value: T) => void;
  const opened = new Promise<T>((resolve) => (open = resolve));
  return { opened, open };
}

/** One SSE event as a browser's EventSource sees it. */
export interface SseEvent {
  event: string;
  id: string | undefined;
  data: string;
}

/**
 * Opens a subscription stream with fetch (as a browser's EventSource does,
 * a `Last-Event-ID` header included when given) and collects its events.
 */
export async function openEventStream(
  server: TestServer,
  token: string,
  body: { query: string; variables?: Record<string, unknown> },
  lastEventId?: string,
) {
  const abort = new AbortController();
  dispose(() => abort.abort());
  const response = await fetch(server.graphqlUrl, {
    method: 'POST',
    signal: abort.signal,
    headers: {
      accept: 'text/event-stream',
      'content-type': 'application/json',
      authorization: `Bearer ${token}`,
      ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
    },
    body: JSON.stringify(body),
  });
  const events: SseEvent[] = [];
  let changed: () => void = () => {};
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      const reader = response.body!.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event: SseEvent = { event: 'message', id: undefined, data: '' };
          for (const line of block.split('\n')) {
            const colon = line.indexOf(':');
            if (colon <= 0) continue;
            const value = line.slice(colon + 1).replace(/^ /, '');
            const field = line.slice(0, colon);
            if (field === 'event') event.event = value;
            else if (field === 'id') event.id = value;
            else if (field === 'data') event.data += value;
          }
          if (event.event === 'next') events.push(event);
          changed();
        }
      }
    } catch {
      // Aborted by the test.
    }
  })();
  return {
    status: response.status,
    events,
    close: () => abort.abort(),
    waitForEvents: (count: number, timeoutMs = 10_000) =>
      new Promise<SseEvent[]>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`Timed out waiting for ${count} SSE events; got ${JSON.stringify(events)}`)),
          timeoutMs,
        );
        changed = () => {
          if (events.length < count) return;
          clearTimeout(timer);
          changed = () => {};
          resolve(events.slice());
        };
        changed();
      }),
  };
}

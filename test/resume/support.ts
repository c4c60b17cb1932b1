import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { dispose, type TestServer } from '../support/harness.js';

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

/** A gate the test opens: until then, whoever awaits it waits. */
export function gate<T>() {
  let open!: (value: T) => void;
  const opened = new Promise<T>((resolve) => (open = resolve));
  return { opened, open };
}

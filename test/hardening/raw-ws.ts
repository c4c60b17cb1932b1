import WebSocket from 'ws';
import { dispose, type TestServer } from '../support/harness.js';

/** A message of the `graphql-transport-ws` protocol, as received. */
export interface ProtocolMessage {
  type: string;
  id?: string;
  payload?: any;
}

/** A raw `ws` client that speaks the protocol by hand: nothing is done for it. */
export interface RawSocket {
  ws: WebSocket;
  /** Every message received so far, parsed. */
  messages: ProtocolMessage[];
  /** Resolves with the close code and reason, whoever closed. */
  closed: Promise<{ code: number; reason: string }>;
  send(message: unknown): void;
  /** Waits for the first message (from now on or already received) that `match` accepts. */
  waitFor(match: (message: ProtocolMessage) => boolean, timeoutMs?: number): Promise<ProtocolMessage>;
  /** Sends `connection_init` with `token` and waits for the ack. */
  init(token: string): Promise<void>;
}

/**
 * Opens a raw WebSocket to the server, disposed after the test. Resolves
 * once open, or rejects with the HTTP status when the upgrade is refused.
 */
export async function rawSocket(
  target: TestServer,
  options: { protocol?: string | null; headers?: Record<string, string>; autoPong?: boolean } = {},
): Promise<RawSocket> {
  const { protocol = 'graphql-transport-ws', headers, autoPong = true } = options;
  const ws = new WebSocket(target.wsUrl, protocol === null ? [] : protocol, { headers, autoPong });
  dispose(() => ws.terminate());
  const messages: ProtocolMessage[] = [];
  const listeners = new Set<() => void>();
  ws.on('message', (data) => {
    try {
      messages.push(JSON.parse(String(data)) as ProtocolMessage);
    } catch {
      messages.push({ type: '<unparseable>', payload: String(data) });
    }
    for (const listener of listeners) listener();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_request, response) => reject(new UpgradeRefused(response.statusCode ?? 0)));
    ws.once('error', reject);
  });
  ws.on('error', () => {});
  const waitFor = (match: (message: ProtocolMessage) => boolean, timeoutMs = 5000) =>
    new Promise<ProtocolMessage>((resolve, reject) => {
      const check = () => {
        const found = messages.find(match);
        if (!found) return;
        listeners.delete(check);
        clearTimeout(timer);
        resolve(found);
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`Timed out waiting for a message; got ${JSON.stringify(messages).slice(0, 500)}`));
      }, timeoutMs);
      listeners.add(check);
      check();
    });
  const socket: RawSocket = {
    ws,
    messages,
    closed,
    send: (message) => ws.send(typeof message === 'string' ? message : JSON.stringify(message)),
    waitFor,
    async init(token) {
      socket.send({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } });
      await waitFor((message) => message.type === 'connection_ack');
    },
  };
  return socket;
}

/** The upgrade was answered with an HTTP status instead of 101. */
export class UpgradeRefused extends Error {
  constructor(readonly status: number) {
    super(`WebSocket upgrade refused with HTTP ${status}`);
  }
}

/** Resolves after `ms`, for the rare test whose subject is time itself. */
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

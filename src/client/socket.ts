/** What the helper needs of the WebSocket that graphql-ws hands its `on` listeners (browser, `ws` and undici alike). */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
}

/** `WebSocket.OPEN` in every implementation. */
export const OPEN = 1;

/** A frame of the graphql-transport-ws protocol, either way, as far as the helper reads it. */
export interface Frame {
  type: string;
  id?: string;
  payload?: unknown;
}

/** True for a plain (non-array) object. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `value` as a {@link SocketLike}, or undefined when graphql-ws handed something else. */
export function asSocket(value: unknown): SocketLike | undefined {
  return isRecord(value) && typeof value.send === 'function' && typeof value.readyState === 'number'
    ? (value as unknown as SocketLike)
    : undefined;
}

/**
 * Reports every frame the graphql-ws client sends on `socket` to `onFrame`
 * (graphql-ws has no event for its own outgoing messages: a `complete` sent
 * when the app unsubscribes is seen only here), and returns the socket's own
 * `send`, for frames of the helper's that the watcher must not see.
 */
export function watchOutgoing(socket: SocketLike, onFrame: (frame: Frame) => void): (frame: Frame) => void {
  const send = socket.send;
  const watched = (data: string) => {
    send.call(socket, data);
    const frame = parseFrame(data);
    if (frame) onFrame(frame);
  };
  Object.defineProperty(socket, 'send', { value: watched, configurable: true, writable: true });
  return (frame) => send.call(socket, JSON.stringify(frame));
}

function parseFrame(data: unknown): Frame | undefined {
  if (typeof data !== 'string') return undefined;
  try {
    const frame: unknown = JSON.parse(data);
    return isRecord(frame) && typeof frame.type === 'string' ? (frame as unknown as Frame) : undefined;
  } catch {
    return undefined;
  }
}

import { GraphQLError } from 'graphql';
import {
  handleProtocols,
  makeServer,
  MessageType,
  parseMessage,
  type Context,
  type ServerOptions,
  type SubscribePayload,
  type WebSocket as ProtocolSocket,
} from 'graphql-ws';
import type { WebSocket, WebSocketServer } from 'ws';
import type { Logger } from '../logger.js';
import { settlesWithin } from '../lib/deadline.js';
import { CloseCode } from './close-codes.js';
import { rootFieldOf } from './root-field.js';
import type { Schedule, Scheduled } from './schedule.js';
import type { BufferWatched, WebSocketSlowConsumers } from './slow-consumers.js';
import { WsSocket, type RawSocket } from './ws-socket.js';

/**
 * What graphql-ws hands our hooks about a socket. Not the upgrade request:
 * nothing after the handshake needs it, and holding it (with its headers
 * and socket references) for the socket's whole life cost memory per connection.
 */
export interface SocketExtra {
  socket: WebSocket;
  /** Writes ready-made frames outside graphql-ws (the shared fan-out), under the same slow-consumer rule. */
  raw: RawSocket;
}

export interface AdapterOptions {
  logger: Logger;
  /** The instance's shared schedule: keep-alive checks and slow-consumer graces run on it, not on timers per socket. */
  schedule: Schedule;
  /** Milliseconds between pings; a socket that has not answered the previous one is terminated. 0: none. */
  keepAliveMs: number;
  /** The slow-consumer policy (./slow-consumers.ts): every write is checked against it. */
  slowConsumers: WebSocketSlowConsumers;
  /**
   * Told +1 when a subscription starts streaming and -1 when graphql-ws is
   * done with it, however it ended (completed, failed, `complete` from the
   * client, socket closed): the `/health` count of WebSocket subscriptions,
   * with the subscription's root field, and the socket (the admin API's
   * `connections` counts its own).
   */
  onSubscriptionsChanged?: (delta: 1 | -1, field: string, socket: WebSocket) => void;
  /** Told the close code of each socket closed by the server before its `connection_ack`. */
  onRefused?: (code: number) => void;
  /**
   * Told first when a socket has closed, before graphql-ws ends its
   * operations: one `close` listener per socket for the adapter and its user.
   */
  onSocketClosed?: (socket: WebSocket) => void;
}

/**
 * Longest operation id accepted, in UTF-8 bytes. graphql-ws takes any
 * non-empty string and echoes it in every frame of the operation, so an id
 * of 100 KB would make the server write 100 KB per event: a longer id closes
 * the socket 4400 before anything runs. UUIDs and counters fit many times over.
 */
export const MAX_OPERATION_ID_BYTES = 128;

/** Close reasons are at most 123 bytes (RFC 6455); longer ones would make `ws` throw. */
const MAX_CLOSE_REASON_BYTES = 123;

/** Message types only a server may send: a client sending one breaks the protocol (4400). */
const SERVER_ONLY = new Set<string>([MessageType.ConnectionAck, MessageType.Next, MessageType.Error]);

/**
 * graphql-ws's protocol engine (`makeServer`) on `ws` sockets. It replaces
 * `useServer` from `graphql-ws/use/ws`, whose behaviour it keeps (pings every
 * `keepAliveMs`, terminating a socket that missed the previous pong; 1001 on
 * dispose) while fixing what a server facing the internet cannot have:
 * - a client message of a server-only type (`next`, `error`,
 *   `connection_ack`) made `useServer` close with 4500; here it is 4400;
 * - an operation id longer than {@link MAX_OPERATION_ID_BYTES} closes the
 *   socket 4400 before the operation runs or any frame names it;
 * - close reasons never carry an error's text or a client's id, and nothing goes to console;
 * - a socket's own `error` events never become uncaught exceptions;
 * - a client that stops reading is cut off (4413, by the slow-consumer policy:
 *   ./slow-consumers.ts); sends wait
 *   for the socket to take their data, so a stalled client also stalls its
 *   subscriptions' loops instead of piling up frames.
 */
export function serveGraphqlWs<P extends Record<string, unknown>>(
  wss: WebSocketServer,
  serverOptions: ServerOptions<P, SocketExtra>,
  options: AdapterOptions,
) {
  const {
    logger,
    schedule,
    keepAliveMs,
    slowConsumers,
    onSubscriptionsChanged = () => {},
    onRefused = () => {},
    onSocketClosed,
  } = options;
  /**
   * Per socket, the `subscribe` payloads (one object per operation) of its
   * streaming subscriptions, with their root field. Pairs in an array, not a
   * Map: most sockets run one or a few (at most MAX_SUBSCRIPTIONS_PER_CONNECTION).
   */
  const streaming = new WeakMap<Context<P, SocketExtra>, [SubscribePayload, string][]>();
  /** Sockets whose `connection_init` was accepted. */
  const acknowledged = new WeakSet<WebSocket>();
  /** Sockets that have sent their `connection_init` (accepted or still being checked). */
  const initialised = new WeakSet<WebSocket>();
  // graphql-ws would arm a timer per socket for its connection_init wait: it runs on the shared schedule instead.
  const { connectionInitWaitTimeout: initTimeoutMs = 3_000 } = serverOptions;
  /** A close by the server: one before `connection_ack` (and before any other close) is a refusal. */
  const closeBy = (socket: WebSocket, code: number | undefined, reason?: string) => {
    if (code !== undefined && socket.readyState === socket.OPEN && !acknowledged.has(socket)) onRefused(code);
    closeSocket(socket, code, reason);
  };
  const server = makeServer<P, SocketExtra>({
    ...serverOptions,
    connectionInitWaitTimeout: 0,
    onConnect: async (ctx) => {
      initialised.add(ctx.extra.socket);
      const accepted = await serverOptions.onConnect?.(ctx);
      if (accepted !== false) acknowledged.add(ctx.extra.socket);
      // Read once, here: graphql-ws would keep the payload (its token, resume offsets) for the socket's life.
      (ctx as { connectionParams?: unknown }).connectionParams = undefined;
      return accepted;
    },
    onSubscribe: (ctx, id, payload) => {
      if (!idWithinBound(id)) {
        // Forgotten at once: graphql-ws then sends nothing for it, not even an error.
        delete ctx.subscriptions[id];
        closeSocket(ctx.extra.socket, CloseCode.BadRequest, 'Subscription id too long');
        return [new GraphQLError('Subscription id too long')];
      }
      return serverOptions.onSubscribe?.(ctx, id, payload);
    },
    onOperation: async (ctx, id, payload, args, result) => {
      const replaced = await serverOptions.onOperation?.(ctx, id, payload, args, result);
      // graphql-ws streams an iterable only while the id is still registered.
      if (isAsyncIterable(replaced ?? result) && id in ctx.subscriptions) {
        const field = rootFieldOf(args);
        const live = streaming.get(ctx);
        if (live) live.push([payload, field]);
        else streaming.set(ctx, [[payload, field]]);
        onSubscriptionsChanged(1, field, ctx.extra.socket);
      }
      return replaced;
    },
    onComplete: async (ctx, id, payload) => {
      // Also called after an error, a client's `complete` and a close: every end of a stream.
      const live = streaming.get(ctx);
      const index = live ? live.findIndex(([streamed]) => streamed === payload) : -1;
      if (index >= 0) {
        const [[, field]] = live!.splice(index, 1) as [[SubscribePayload, string]];
        if (live!.length === 0) streaming.delete(ctx);
        onSubscriptionsChanged(-1, field, ctx.extra.socket);
      }
      await serverOptions.onComplete?.(ctx, id, payload);
    },
    onClose: async (ctx, code, reason) => {
      // Whatever graphql-ws did not get to complete before the socket closed.
      const live = streaming.get(ctx);
      streaming.delete(ctx);
      for (const [, field] of live ?? []) onSubscriptionsChanged(-1, field, ctx.extra.socket);
      await serverOptions.onClose?.(ctx, code, reason);
    },
  });
  wss.options.handleProtocols = handleProtocols;
  /** graphql-ws's close of each socket (its operations' `return()` and hooks), for shutdown to wait on. */
  const closing = new Set<Promise<void>>();

  const onSocketError = (error: Error) => logger.debug({ err: error.message }, 'websocket error');
  /** A socket's keep-alive round: terminated if the previous ping went unanswered, pinged otherwise. */
  const keepAlive = (adapted: AdaptedSocket) => {
    const { socket } = adapted;
    if (socket.readyState !== socket.OPEN) return;
    if (adapted.awaitingPong) return socket.terminate();
    adapted.awaitingPong = true;
    socket.ping();
    adapted.keepAlive = schedule.at(Date.now() + keepAliveMs, keepAlive, adapted);
  };
  /** The end of a socket's wait for `connection_init`: closed 4408 unless it has sent one. */
  const initWaitOver = (socket: WebSocket) => {
    if (socket.readyState === socket.OPEN && !initialised.has(socket)) {
      closeBy(socket, CloseCode.ConnectionInitialisationTimeout, 'Connection initialisation timeout');
    }
  };
  const shared: Shared = {
    slowConsumers,
    close: (socket, code, reason) => closeBy(socket, code, closeReason(code, reason)),
    onMessage: (socket, handle, data) => {
      // Before `connection_ack` a socket has proven nothing: its messages stay small.
      if (!acknowledged.has(socket) && byteLength(data) > MAX_MESSAGE_BYTES_BEFORE_ACK) {
        return closeBy(socket, CloseCode.MessageTooBig, 'Message too big before connection_ack');
      }
      const text = String(data);
      // Not an async function: a `subscribe` message's handling lasts as long as its subscription,
      // and a suspended async function would hold the frame's Buffer (and itself) all that while.
      handle(text).catch((error: unknown) => onHandleFailed(socket, text, error));
    },
  };
  /** graphql-ws failed to handle a message of a socket: a server-only type is the client's fault (4400). */
  const onHandleFailed = (socket: WebSocket, text: string, error: unknown) => {
    if (socket.readyState !== socket.OPEN) return;
    if (isServerOnlyMessage(text)) return closeSocket(socket, CloseCode.BadRequest, 'Invalid message received');
    logger.error({ err: error }, 'websocket message handling failed');
    closeSocket(socket, CloseCode.InternalServerError, 'Internal server error');
  };
  // The listeners below are shared by every socket (no closure per socket): `this` is the `ws` socket.
  function onPong(this: WebSocket) {
    const adapted = adaptedSockets.get(this);
    if (adapted) adapted.awaitingPong = false;
  }
  function onSocketClose(this: WebSocket, code: number, reason: Buffer) {
    try {
      onSocketClosed?.(this);
    } catch (error) {
      // What the server keeps per socket failed to let go; graphql-ws still ends its operations below.
      logger.error({ err: error }, 'releasing a closed websocket failed');
    }
    const adapted = adaptedSockets.get(this);
    if (!adapted) return;
    schedule.cancel(adapted.initWait);
    schedule.cancel(adapted.keepAlive);
    slowConsumers.stopWatching(adapted);
    const done = adapted.closed!(code, String(reason)).catch((error: unknown) =>
      logger.error({ err: error }, 'websocket close handling failed'),
    );
    adapted.closed = undefined;
    closing.add(done);
    void done.finally(() => closing.delete(done));
  }

  wss.on('connection', (socket: WebSocket) => {
    // ws has already answered a protocol violation (e.g. 1009 for a too big frame).
    socket.on('error', onSocketError);
    const adapted = new AdaptedSocket(socket, shared);
    if (keepAliveMs > 0) {
      socket.on('pong', onPong);
      adapted.keepAlive = schedule.at(Date.now() + keepAliveMs, keepAlive, adapted);
    }
    if (initTimeoutMs > 0 && Number.isFinite(initTimeoutMs)) {
      adapted.initWait = schedule.at(Date.now() + initTimeoutMs, initWaitOver, socket);
    }

    // The adapted socket is both graphql-ws' socket and its `extra`: one object per connection.
    adapted.closed = server.opened(adapted, adapted);
    // `on`, not `once` (a wrapper and its state per socket): `ws` emits `close` once.
    socket.on('close', onSocketClose);
  });

  return {
    /** Closes a socket with `code`, counted as a refusal when it has not been acknowledged. */
    close: closeBy,
    /**
     * Closes every socket with 1001 and stops the server, within `graceMs`
     * whatever clients do: `ws` would wait up to 30 s for each close
     * handshake, so a socket still open when the grace is over (a client
     * that never answers, or stopped reading with data queued) is dropped.
     * Resolves once every socket has closed and graphql-ws has ended its
     * operations (or the grace is over for those).
     */
    async dispose(graceMs: number) {
      const deadline = Date.now() + graceMs;
      wss.removeAllListeners('connection');
      const stopped = new Promise<void>((resolve, reject) => wss.close((error) => (error ? reject(error) : resolve())));
      for (const client of wss.clients) client.close(CloseCode.GoingAway, 'Going away');
      if (!(await settlesWithin(stopped, deadline - Date.now()))) {
        for (const client of wss.clients) client.terminate();
        await stopped;
      }
      await settlesWithin(Promise.all(closing), deadline - Date.now());
    },
  };
}

/** What every {@link AdaptedSocket} of an adapter shares. */
interface Shared {
  slowConsumers: WebSocketSlowConsumers;
  close(socket: WebSocket, code: number | undefined, reason: string | undefined): void;
  onMessage(socket: WebSocket, handle: (data: string) => Promise<void>, data: Buffer | ArrayBuffer | Buffer[]): void;
}

/**
 * What the adapter keeps per socket besides graphql-ws: ONE object, which
 * is graphql-ws' socket (`send`, `close`, `onPing`, `onMessage` as
 * prototype methods, not closures per socket), its `extra` (the `ws`
 * socket, and itself as the {@link RawSocket} of the shared fan-out), the
 * slow-consumer watch's record, and its deadlines on the shared schedule.
 */
class AdaptedSocket extends WsSocket implements ProtocolSocket, SocketExtra, BufferWatched {
  awaitingPong = false;
  /** Until its `connection_init` is due. */
  initWait: Scheduled | undefined = undefined;
  /** Its next keep-alive round. */
  keepAlive: Scheduled | undefined = undefined;
  slowSince: Scheduled | undefined = undefined;
  /** graphql-ws' close of the socket (ends its operations), until the socket has closed. */
  closed: ((code?: number, reason?: string) => Promise<void>) | undefined = undefined;
  /** graphql-ws' message handler, called by the listener every socket shares. */
  private handle: ((data: string) => Promise<void>) | undefined = undefined;

  constructor(
    socket: WebSocket,
    private readonly shared: Shared,
  ) {
    super(socket);
    adaptedSockets.set(socket, this);
  }

  get protocol(): string {
    return this.socket.protocol;
  }

  get raw(): RawSocket {
    return this;
  }

  /** Resolves once the socket took the data (or closed): backpressure for graphql-ws. */
  send(data: string): Promise<void> {
    return this.write(data);
  }

  close(code?: number, reason?: string): void {
    this.shared.close(this.socket, code, reason);
  }

  /**
   * A pong never echoes the ping's payload: a client that does not read
   * cannot make the server queue its own (up to 1 MiB) messages back.
   */
  onPing(): Promise<void> {
    return this.write(PONG);
  }

  onMessage(handle: (data: string) => Promise<void>): void {
    this.handle = handle;
    this.socket.on('message', onSocketMessage);
  }

  /** A message from the client, to graphql-ws. */
  received(data: Buffer | ArrayBuffer | Buffer[]): void {
    if (this.handle) this.shared.onMessage(this.socket, this.handle, data);
  }

  protected override afterSend(): void {
    this.shared.slowConsumers.checkBuffer(this);
  }

  private write(data: string): Promise<void> {
    const { socket } = this;
    return new Promise<void>((resolve) => {
      if (socket.readyState !== socket.OPEN) return resolve();
      socket.send(data, () => {
        this.afterSend();
        resolve();
      });
      this.afterSend();
    });
  }
}

/** The `message` listener of every socket: `ws` calls it with the socket as `this`. */
function onSocketMessage(this: WebSocket, data: Buffer | ArrayBuffer | Buffer[]) {
  adaptedSockets.get(this)?.received(data);
}

/** Every adapted socket by its `ws` socket, for the listeners all sockets share. */
const adaptedSockets = new WeakMap<WebSocket, AdaptedSocket>();

function idWithinBound(id: string): boolean {
  // UTF-8 never takes fewer bytes than UTF-16 code units: most ids are decided without encoding.
  if (id.length > MAX_OPERATION_ID_BYTES) return false;
  return Buffer.byteLength(id) <= MAX_OPERATION_ID_BYTES;
}

/** graphql-ws's reason, unless it names the client's id (4409) or is too long to send. */
function closeReason(code: number | undefined, reason: string | undefined): string | undefined {
  if (code === CloseCode.SubscriberAlreadyExists) return 'Subscriber already exists';
  if (reason && Buffer.byteLength(reason) > MAX_CLOSE_REASON_BYTES) return undefined;
  return reason;
}

function isAsyncIterable(value: unknown): boolean {
  return typeof Object(value)[Symbol.asyncIterator] === 'function';
}

/**
 * Every close this server starts: the close frame, then, if the client has
 * not completed the close handshake a second later (it does not answer, or
 * does not read what is queued before the frame), the connection is
 * dropped. `ws` alone would keep it open 30 s, counted and holding a socket,
 * for a client that may never have sent a token.
 */
export function closeSocket(socket: WebSocket, code?: number, reason?: string): void {
  if (socket.readyState === socket.CLOSED) return;
  socket.close(code, reason);
  setTimeout(() => socket.terminate(), CLOSE_HANDSHAKE_MS).unref();
}

/** How long a client has to answer a close frame. */
const CLOSE_HANDSHAKE_MS = 1000;

/** The largest message a socket may send before its `connection_init` is accepted (a token, resume offsets). */
export const MAX_MESSAGE_BYTES_BEFORE_ACK = 64 * 1024;

const PONG = JSON.stringify({ type: MessageType.Pong });

function byteLength(data: Buffer | ArrayBuffer | Buffer[]): number {
  if (Array.isArray(data)) return data.reduce((sum, chunk) => sum + chunk.length, 0);
  return data.byteLength;
}

function isServerOnlyMessage(text: string): boolean {
  try {
    return SERVER_ONLY.has(parseMessage(text).type);
  } catch {
    return false;
  }
}

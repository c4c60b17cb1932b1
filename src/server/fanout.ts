import { createRequire } from 'node:module';
import type { Duplex } from 'node:stream';
import type * as GraphQLModule from 'graphql';
import type { DocumentNode, ExecutionArgs, ExecutionResult, GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { WebSocket } from 'ws';
import { publicError } from './public-error.js';

/**
 * graphql-js as the schema's own libraries load it (CommonJS, its `main`):
 * its `createSourceEventStream` checks that the schema comes from the same
 * copy, and a bundler or vite may hand this file the ESM copy instead.
 */
const { createSourceEventStream, execute } = createRequire(import.meta.url)('graphql') as typeof GraphQLModule;

/**
 * Shared fan-out for WebSocket subscriptions.
 *
 * The stock path runs, for every event and every subscriber, the whole
 * pipeline: a GraphQL execution, the plugins' per-result hooks, a
 * `JSON.stringify` of the result and graphql-ws' own loop. With one event
 * going to thousands of subscribers that is almost all of the server's work.
 *
 * Here each subscription still has its own source stream, made by its own
 * `subscribe` resolver: the per-subscriber authorization (`filter`,
 * `isLast`, the access signal) is untouched and runs before anything below.
 * What is shared is what comes after: an event that several subscribers
 * receive is executed once per distinct (document, operation, variables)
 * with graphql-js (errors masked by the pipeline's own `maskError` and made
 * public as on every WebSocket path: ./public-error.ts),
 * serialised once, and written to each socket as a graphql-transport-ws
 * `next` frame with that subscriber's id.
 *
 * A result is only shared when its execution read nothing from the
 * subscriber's context but `services` (the same object for everyone):
 * every context read is tracked, and a result whose resolvers looked at the
 * viewer (or anything else per connection) is executed again for each
 * subscriber with their own context. Sharing can never leak one viewer's
 * view to another.
 *
 * graphql-ws still owns the operation's lifecycle: the iterator handed to
 * it yields nothing and settles when the subscription ends (then graphql-ws
 * sends `complete`, or `error` if it failed); its `return()` (client
 * `complete`, socket closed) stops delivery at once.
 */

/** Where a WebSocket operation's frames go, carried on the operation's root value. */
export interface FanoutTarget {
  socket: WebSocket;
  /** The client's operation id. */
  id: string;
  /** Called after each frame written (the transport's slow-consumer watch). */
  afterWrite?: () => void;
}

/** Key of {@link FanoutTarget} on the root value of a WebSocket operation. */
export const FANOUT = Symbol.for('realtime-graphql.fanout');

/** Context fields the same for every subscriber: reading them does not make a result private. */
const SHARED_CONTEXT_KEYS = new Set<PropertyKey>(['services']);

/** Past this many bytes queued on a socket, delivery waits for the socket to drain. */
const DEFAULT_HIGH_WATER_BYTES = 1024 * 1024;

export interface FanoutOptions {
  /** The pipeline's error masking, applied to every error of an event's result. */
  maskError: (error: GraphQLError) => GraphQLError;
  highWaterBytes?: number;
}

/**
 * The envelop plugin: WebSocket subscription operations (those whose root
 * value carries a {@link FanoutTarget}) use the shared path; SSE and HTTP
 * keep the stock one.
 */
export function useSharedSubscriptions(options: FanoutOptions): Plugin {
  const frames = new FrameCache(options.maskError);
  const highWaterBytes = options.highWaterBytes ?? DEFAULT_HIGH_WATER_BYTES;
  return {
    onSubscribe({ args, setSubscribeFn }) {
      const target = (args.rootValue as { [FANOUT]?: FanoutTarget } | undefined)?.[FANOUT];
      if (!target) return;
      setSubscribeFn(async (subscribeArgs) => {
        const source = await createSourceEventStream(subscribeArgs);
        if (!(Symbol.asyncIterator in source)) return source;
        return new FrameStream(source[Symbol.asyncIterator](), subscribeArgs, target, frames, highWaterBytes) as never;
      });
    },
  };
}

/** One execution of an event for a (document, operation, variables) group. */
interface Entry {
  /** Settles with the serialised result and whether it read per-subscriber context. */
  result: Promise<Executed> | Executed;
}
interface Executed {
  /** The result as UTF-8 JSON: encoded once, copied into each subscriber's frame. */
  json: Buffer;
  private: boolean;
}

/** Serialised results per event object and group; gone with the event. */
export class FrameCache {
  private readonly byEvent = new WeakMap<object, Map<string, Entry>>();
  private readonly documentIds = new WeakMap<DocumentNode, number>();
  private nextDocumentId = 1;
  /** Executions run, for tests and diagnostics. */
  executions = 0;

  constructor(private readonly maskError: FanoutOptions['maskError']) {}

  /** The group a subscription belongs to: same document object, operation and variables. */
  groupOf(args: ExecutionArgs): string {
    let id = this.documentIds.get(args.document);
    if (id === undefined) this.documentIds.set(args.document, (id = this.nextDocumentId++));
    return `${id}\u0000${args.operationName ?? ''}\u0000${JSON.stringify(args.variableValues ?? {})}`;
  }

  /** The serialised `payload` of a `next` frame for this subscriber and event. */
  payloadFor(event: unknown, args: ExecutionArgs, group: string): MaybePromise<Buffer> {
    if (typeof event !== 'object' || event === null) return this.run(event, args, false, (r) => r.json);
    let entries = this.byEvent.get(event);
    if (!entries) this.byEvent.set(event, (entries = new Map()));
    const entry = entries.get(group);
    if (!entry) {
      const result = this.run(event, args, true, (r) => r);
      entries.set(group, { result });
      return then(result, (r) => r.json);
    }
    return then(entry.result, (shared) => (shared.private ? this.run(event, args, false, (r) => r.json) : shared.json));
  }

  private run<T>(
    event: unknown,
    args: ExecutionArgs,
    track: boolean,
    pick: (executed: Executed) => T,
  ): MaybePromise<T> {
    this.executions++;
    const context = track ? trackReads(args.contextValue) : undefined;
    const result = execute({ ...args, rootValue: event, contextValue: context?.proxy ?? args.contextValue });
    return then(result, (value) => {
      const masked = value.errors?.length
        ? { ...value, errors: value.errors.map((error) => publicError(this.maskError(error))) }
        : value;
      return pick({ json: Buffer.from(JSON.stringify(masked)), private: context ? context.touched() : true });
    });
  }
}

/** The iterator graphql-ws drives: yields nothing, settles when delivery ends. */
class FrameStream implements AsyncIterableIterator<ExecutionResult> {
  private readonly prefix: Buffer;
  private readonly group: string;
  private started = false;
  private stopped = false;
  private readonly ended: Promise<IteratorResult<ExecutionResult>>;
  private settle!: (result: IteratorResult<ExecutionResult>) => void;
  private fail!: (error: unknown) => void;

  constructor(
    private readonly source: AsyncIterator<unknown>,
    private readonly args: ExecutionArgs,
    private readonly target: FanoutTarget,
    private readonly frames: FrameCache,
    private readonly highWaterBytes: number,
  ) {
    this.prefix = Buffer.from(`{"id":${JSON.stringify(target.id)},"type":"next","payload":`);
    this.group = frames.groupOf(args);
    this.ended = new Promise((resolve, reject) => {
      this.settle = resolve;
      this.fail = reject;
    });
    // Nobody may wait on it (a subscription returned before its first next()).
    this.ended.catch(() => {});
  }

  next(): Promise<IteratorResult<ExecutionResult>> {
    if (!this.started) {
      // graphql-ws iterates only once it has registered the operation id.
      this.started = true;
      void this.pump();
    }
    return this.ended;
  }

  return(): Promise<IteratorResult<ExecutionResult>> {
    this.stop();
    this.settle({ value: undefined, done: true });
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<ExecutionResult>> {
    this.stop();
    this.settle({ value: undefined, done: true });
    return Promise.reject(error);
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  private stop() {
    if (this.stopped) return;
    this.stopped = true;
    void this.source.return?.()?.catch(() => {});
  }

  private async pump() {
    const { socket } = this.target;
    try {
      for (;;) {
        const step = await this.source.next();
        if (step.done || this.stopped) break;
        let payload = this.frames.payloadFor(step.value, this.args, this.group);
        if (payload instanceof Promise) payload = await payload;
        if (this.stopped || socket.readyState !== socket.OPEN) break;
        batchWrites(socket);
        if (socket.bufferedAmount < this.highWaterBytes) {
          writeNext(socket, this.prefix, payload);
          this.target.afterWrite?.();
        } else {
          // A client that does not read: stop pulling, so its source queue (bounded) fills up.
          const written = new Promise<void>((resolve, reject) =>
            writeNext(socket, this.prefix, payload, (error) => (error ? reject(error) : resolve())),
          );
          this.target.afterWrite?.();
          await written;
        }
      }
      this.stop();
      this.settle({ value: undefined, done: true });
    } catch (error) {
      this.stop();
      this.fail(error);
    }
  }
}

type MaybePromise<T> = T | Promise<T>;

const FRAME_END = Buffer.from('}');

interface FrameSender {
  sendFrame(list: Buffer[], cb?: (error?: Error) => void): void;
}

/**
 * Writes `{"id":"<id>","type":"next","payload":<shared JSON>}` as one
 * WebSocket text frame: header and message built in one buffer (two copies,
 * no re-encoding) and handed to ws' sender as a ready frame, one write, as
 * Socket.IO's engine does with its pre-encoded broadcast frames. Server
 * frames are unmasked and this server negotiates no compression; when the
 * sender has no `sendFrame`, `send()` frames the same bytes.
 */
function writeNext(socket: WebSocket, prefix: Buffer, payload: Buffer, cb?: (error?: Error) => void) {
  const length = prefix.length + payload.length + 1;
  const sender = (socket as unknown as { _sender?: Partial<FrameSender> })._sender;
  if (typeof sender?.sendFrame !== 'function') {
    socket.send(Buffer.concat([prefix, payload, FRAME_END], length), TEXT, cb);
    return;
  }
  const header = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = 0x81; // FIN, text
  if (header === 2) {
    frame[1] = length;
  } else if (header === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  prefix.copy(frame, header);
  payload.copy(frame, header + prefix.length);
  frame[header + length - 1] = 0x7d; // }
  sender.sendFrame([frame], cb);
}

/**
 * Batches a burst: the first frame a socket gets in a tick is written at
 * once (a single event reaches every subscriber as soon as its turn comes);
 * from the second frame on in the same tick the socket is corked, and what
 * piles up (several events of a Redis burst, several operations) leaves in
 * one `writev` at the end of the tick rather than one system call per frame
 * — what Engine.IO achieves by queueing while a send is in flight.
 */
const WRITTEN_IN_TICK = Symbol('fanout.tick');
type Stamped = Duplex & { [WRITTEN_IN_TICK]?: number };
let tick = 0;
let tickEnding = false;
const corked: Duplex[] = [];

function batchWrites(socket: WebSocket) {
  const raw = (socket as unknown as { _socket?: Stamped })._socket;
  if (!raw || raw.destroyed) return;
  if (!tickEnding) {
    tickEnding = true;
    process.nextTick(endTick);
  }
  if (raw[WRITTEN_IN_TICK] !== tick) {
    raw[WRITTEN_IN_TICK] = tick;
  } else if (raw.writableCorked === 0) {
    raw.cork();
    corked.push(raw);
  }
}

function endTick() {
  tickEnding = false;
  tick++;
  for (const raw of corked) raw.uncork();
  corked.length = 0;
}
/** graphql-transport-ws messages are text frames. */
const TEXT = { binary: false } as const;

function then<T, R>(value: MaybePromise<T>, fn: (value: T) => MaybePromise<R>): MaybePromise<R> {
  return value instanceof Promise ? value.then(fn) : fn(value);
}

/** A view of a context that records whether anything per-subscriber was read through it. */
function trackReads(context: unknown): { proxy: unknown; touched: () => boolean } {
  if (typeof context !== 'object' || context === null) return { proxy: context, touched: () => false };
  let touched = false;
  const proxy = new Proxy(context, {
    get(target, key, receiver) {
      if (!SHARED_CONTEXT_KEYS.has(key)) touched = true;
      return Reflect.get(target, key, receiver);
    },
    has(target, key) {
      if (!SHARED_CONTEXT_KEYS.has(key)) touched = true;
      return Reflect.has(target, key);
    },
    ownKeys(target) {
      touched = true;
      return Reflect.ownKeys(target);
    },
    getOwnPropertyDescriptor(target, key) {
      if (!SHARED_CONTEXT_KEYS.has(key)) touched = true;
      return Reflect.getOwnPropertyDescriptor(target, key);
    },
  });
  return { proxy, touched: () => touched };
}

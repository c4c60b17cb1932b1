import type { DocumentNode, ExecutionArgs, ExecutionResult, GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { offsetOf } from '../events/offsets.js';
import { createSourceEventStream, execute } from './graphql-cjs.js';
import { publicError } from './public-error.js';
import type { RawFrames } from './raw-frames.js';

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
 * `next` frame with that subscriber's id, through the WebSocket adapter's
 * {@link RawFrames} (one ready frame per message, bursts batched per tick).
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
 *
 * An event's offset (resume after a reconnect) is the same for every
 * subscriber: it goes into the one serialised result, as
 * `extensions.offset`, so it costs nothing per subscriber.
 */

/** Where a WebSocket operation's frames go, carried on the operation's root value. */
export interface FanoutTarget {
  /** The client's operation id. */
  id: string;
  /** The socket's writer of ready-made messages, from the WebSocket adapter. */
  frames: RawFrames;
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
  /** Where frames written and executions run are counted (`/metrics`). */
  counts?: FanoutCounts;
}

/** What the shared path did: `delivered / executions` is how much one execution was shared. */
export interface FanoutCounts {
  /** `next` frames written to subscribers. */
  delivered: number;
  /** GraphQL executions run for them. */
  executions: number;
}

/**
 * The envelop plugin: WebSocket subscription operations (those whose root
 * value carries a {@link FanoutTarget}) use the shared path; SSE and HTTP
 * keep the stock one.
 */
export function useSharedSubscriptions(options: FanoutOptions): Plugin {
  const frames = new FrameCache(options.maskError, options.counts);
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

  constructor(
    private readonly maskError: FanoutOptions['maskError'],
    readonly counts: FanoutCounts = { delivered: 0, executions: 0 },
  ) {}

  /** Executions run, for tests and diagnostics. */
  get executions(): number {
    return this.counts.executions;
  }

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
    this.counts.executions++;
    const context = track ? trackReads(args.contextValue) : undefined;
    const result = execute({ ...args, rootValue: event, contextValue: context?.proxy ?? args.contextValue });
    return then(result, (value) => {
      const masked = value.errors?.length
        ? { ...value, errors: value.errors.map((error) => publicError(this.maskError(error))) }
        : value;
      const json = JSON.stringify(withOffset(masked, offsetOf(event)));
      return pick({ json: Buffer.from(json), private: context ? context.touched() : true });
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
    const { frames } = this.target;
    try {
      for (;;) {
        const step = await this.source.next();
        if (step.done || this.stopped) break;
        let payload = this.frames.payloadFor(step.value, this.args, this.group);
        if (payload instanceof Promise) payload = await payload;
        if (this.stopped || !frames.open) break;
        this.frames.counts.delivered++;
        if (frames.bufferedAmount < this.highWaterBytes) {
          frames.send(this.prefix, payload, FRAME_END);
        } else {
          // A client that does not read: stop pulling, so its source queue (bounded) fills up.
          await new Promise<void>((resolve, reject) =>
            frames.send(this.prefix, payload, FRAME_END, (error) => (error ? reject(error) : resolve())),
          );
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

/** A result carrying its event's offset (if any) as `extensions.offset`, as the resume contract says. */
export function withOffset<Result extends { extensions?: Record<string, unknown> }>(
  result: Result,
  offset: string | undefined,
): Result {
  return offset === undefined ? result : { ...result, extensions: { ...result.extensions, offset } };
}

/** The end of every `next` frame: `{"id":…,"type":"next","payload":<JSON>` + `}`. */
const FRAME_END = Buffer.from('}');

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

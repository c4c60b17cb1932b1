import type { DocumentNode, ExecutionArgs, ExecutionResult, GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { offsetOf } from '../events/offsets.js';
import { flatString } from '../lib/flat-string.js';
import type { StatusCounters } from '../status/counters.js';
import { createSourceEventStream, execute } from './graphql-cjs.js';
import { publicError } from './public-error.js';
import { textFrame } from './raw-frames.js';
import { DEFAULT_DRAIN_ABOVE_BYTES } from './slow-consumers.js';
import type { RawSocket } from './ws-socket.js';

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
 * {@link RawSocket} (one ready frame per message, bursts batched per tick).
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
 *
 * Plugins still see every delivery: envelop's per-result hook of a
 * subscription (`onSubscribeResult` → `onNext`, what metrics and tracing
 * plugins use) would wrap the iterator handed to graphql-ws, which yields
 * nothing here. {@link withSharedDeliveryHooks} hands such an `onNext` to
 * the subscription's {@link FanoutTarget} instead, and each delivery calls it
 * with the result written (a `setResult` re-serialises that subscriber's
 * frame alone). A subscription no plugin asked about costs nothing more.
 */

/** Where a WebSocket operation's frames go, carried on the operation's root value. */
export interface FanoutTarget {
  /** The client's operation id. */
  id: string;
  /** The socket, as the WebSocket adapter lets senders outside graphql-ws use it. */
  raw: RawSocket;
  /** The subscriber's organisation, where its deliveries are counted; none: not counted (see `countsAsDelivery`). */
  orgId: string | undefined;
  /** Plugins' `onNext` hooks of this subscription, if any registered one (see {@link withSharedDeliveryHooks}). */
  onNext?: SubscriptionNextHook[];
}

/** envelop's per-result hook of a subscription (`onSubscribeResult` → `onNext`). */
export type SubscriptionNextHook = (payload: {
  args: ExecutionArgs;
  result: ExecutionResult;
  setResult: (result: ExecutionResult) => void;
}) => unknown;

/** Key of {@link FanoutTarget} on the root value of a WebSocket operation. */
export const FANOUT = Symbol.for('realtime-graphql.fanout');

/** Context fields the same for every subscriber: reading them does not make a result private. */
const SHARED_CONTEXT_KEYS = new Set<PropertyKey>(['services']);

export interface FanoutOptions {
  /**
   * The pipeline's error masking, applied to every error of an event's
   * result, and to a subscription's failure to start (this path stands in
   * for yoga's own masking there).
   */
  maskError: (error: unknown) => GraphQLError;
  /** Past this many bytes queued on a socket, delivery waits for it to drain (the slow-consumer policy's). */
  drainAboveBytes?: number;
  /** Where each frame written is counted: the one counting point of deliveries (status page, `/metrics`). */
  counters?: Pick<StatusCounters, 'delivered'>;
  /** Where executions run are counted (`/metrics`). */
  counts?: FanoutCounts;
}

/** What the shared path ran: deliveries (counted per subscriber elsewhere) divided by this is how much one execution was shared. */
export interface FanoutCounts {
  /** GraphQL executions run for the frames written. */
  executions: number;
}

/**
 * The envelop plugin: WebSocket subscription operations (those whose root
 * value carries a {@link FanoutTarget}) use the shared path; SSE and HTTP
 * keep the stock one.
 */
export function useSharedSubscriptions(options: FanoutOptions): Plugin {
  const frames = new FrameCache(options.maskError, options.counts);
  const delivery: Delivery = {
    frames,
    drainAboveBytes: options.drainAboveBytes ?? DEFAULT_DRAIN_ABOVE_BYTES,
    counters: options.counters,
  };
  const { maskError } = options;
  /** The subscription's stream on the shared path; its errors masked as yoga's masking would. */
  const open = async (args: ExecutionArgs, target: FanoutTarget) => {
    let source: Awaited<ReturnType<typeof createSourceEventStream>>;
    try {
      source = await createSourceEventStream(args);
    } catch (error) {
      throw maskError(error);
    }
    if (Symbol.asyncIterator in source) return new FrameStream(source[Symbol.asyncIterator](), args, target, delivery);
    return source.errors?.length ? { ...source, errors: source.errors.map((error) => maskError(error)) } : source;
  };
  return {
    onSubscribe({ args, setResultAndStopExecution }) {
      const target = (args.rootValue as { [FANOUT]?: FanoutTarget } | undefined)?.[FANOUT];
      if (!target) return;
      // The last of the pipeline's own plugins: stopping here skips only yoga's error masking,
      // whose per-result hooks would wrap (in three iterator layers kept for the subscription's
      // life) a stream that yields nothing. It masks what this path returns, as that plugin would.
      setResultAndStopExecution(open(args, target) as never);
    },
  };
}

/** One execution of an event for a (document, operation, variables) group. */
interface Entry {
  /** Settles with the serialised result and whether it read per-subscriber context. */
  result: Promise<Executed> | Executed;
}
/** An event executed for a group: what is written, and whether it may be shared. */
export interface Executed {
  /** The result as UTF-8 JSON: encoded once, copied into each subscriber's frame. */
  json: Buffer;
  /** The result those bytes are, for plugins' hooks. */
  result: ExecutionResult;
  private: boolean;
}

/** What every {@link FrameStream} of a pipeline shares. */
interface Delivery {
  frames: FrameCache;
  drainAboveBytes: number;
  counters: Pick<StatusCounters, 'delivered'> | undefined;
}

/** Serialised results per event object and group; gone with the event. */
export class FrameCache {
  private readonly byEvent = new WeakMap<object, Map<string, Entry>>();
  private readonly documentIds = new WeakMap<DocumentNode, number>();
  private nextDocumentId = 1;

  constructor(
    private readonly maskError: (error: GraphQLError) => GraphQLError,
    readonly counts: FanoutCounts = { executions: 0 },
  ) {}

  /** Executions run, for tests and diagnostics. */
  get executions(): number {
    return this.counts.executions;
  }

  /** The group a subscription belongs to: same document object, operation and variables. */
  groupOf(args: ExecutionArgs): string {
    let id = this.documentIds.get(args.document);
    if (id === undefined) this.documentIds.set(args.document, (id = this.nextDocumentId++));
    // Kept by each subscription: a flat string (JSON.stringify's own output is a rope of its parts).
    return flatString(JSON.stringify([id, args.operationName ?? '', args.variableValues ?? {}]));
  }

  /** The serialised `payload` of a `next` frame for this subscriber and event (and the result it is). */
  payloadFor(event: unknown, args: ExecutionArgs, group: string): MaybePromise<Executed> {
    if (typeof event !== 'object' || event === null) return this.run(event, args, false);
    let entries = this.byEvent.get(event);
    if (!entries) this.byEvent.set(event, (entries = new Map()));
    const entry = entries.get(group);
    if (!entry) {
      const result = this.run(event, args, true);
      entries.set(group, { result });
      return result;
    }
    return then(entry.result, (shared) => (shared.private ? this.run(event, args, false) : shared));
  }

  private run(event: unknown, args: ExecutionArgs, track: boolean): MaybePromise<Executed> {
    this.counts.executions++;
    const context = track ? trackReads(args.contextValue) : undefined;
    const result = execute({ ...args, rootValue: event, contextValue: context?.proxy ?? args.contextValue });
    return then(result, (value) => {
      const masked = value.errors?.length
        ? { ...value, errors: value.errors.map((error) => publicError(this.maskError(error))) }
        : value;
      const result = withOffset(masked, offsetOf(event));
      return {
        json: Buffer.from(JSON.stringify(result)),
        // Its errors are public ones by now: what the client receives, as plugins see it on the stock path.
        result: result as ExecutionResult,
        private: context ? context.touched() : true,
      };
    });
  }
}

/** The iterator graphql-ws drives: yields nothing, settles when delivery ends. */
class FrameStream implements AsyncIterableIterator<ExecutionResult> {
  private readonly prefix: Buffer;
  private readonly group: string;
  private stopped = false;
  /**
   * What graphql-ws' loop waits on: made by its first `next()`, so that it
   * always has a waiter (no rejection goes unhandled, no catch is kept per
   * subscription).
   */
  private ended: Promise<IteratorResult<ExecutionResult>> | undefined;
  private settle: ((result: IteratorResult<ExecutionResult>) => void) | undefined;
  private fail: ((error: unknown) => void) | undefined;

  constructor(
    private readonly source: AsyncIterator<unknown>,
    private readonly args: ExecutionArgs,
    private readonly target: FanoutTarget,
    private readonly delivery: Delivery,
  ) {
    this.prefix = Buffer.from(`{"id":${JSON.stringify(target.id)},"type":"next","payload":`);
    this.group = delivery.frames.groupOf(args);
  }

  next(): Promise<IteratorResult<ExecutionResult>> {
    if (!this.ended) {
      this.ended = new Promise((resolve, reject) => {
        this.settle = resolve;
        this.fail = reject;
      });
      // graphql-ws iterates only once it has registered the operation id; one returned first is done.
      if (this.stopped) this.end();
      else this.pull();
    }
    return this.ended;
  }

  return(): Promise<IteratorResult<ExecutionResult>> {
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<ExecutionResult>> {
    this.end();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  /**
   * Runs the plugins' `onNext` hooks of this subscription (in order, each
   * seeing the previous one's `setResult`) on the result about to be
   * written; a result they replaced is serialised for this subscriber alone.
   */
  private hooked(shared: ExecutionResult): MaybePromise<Buffer | undefined> {
    const hooks = this.target.onNext!;
    let result = shared;
    const setResult = (replaced: ExecutionResult) => (result = replaced);
    const own = () => (result === shared ? undefined : Buffer.from(JSON.stringify(result)));
    const runFrom = (index: number): MaybePromise<Buffer | undefined> => {
      for (let i = index; i < hooks.length; i++) {
        const returned = hooks[i]!({ args: this.args, result, setResult });
        if (returned instanceof Promise) return returned.then(() => runFrom(i + 1));
      }
      return own();
    };
    return runFrom(0);
  }

  private stop() {
    if (this.stopped) return;
    this.stopped = true;
    // Whatever the source's `return()` gives back (or throws), releasing it never fails delivery.
    void Promise.resolve()
      .then(() => this.source.return?.())
      .catch(() => {});
  }

  /**
   * Waits for the source's next event: a callback on its promise, not an
   * async function suspended (with its frame) for the subscription's life.
   */
  private pull(): void {
    let next: Promise<IteratorResult<unknown>>;
    try {
      next = this.source.next();
    } catch (error) {
      return this.failed(error);
    }
    // A source that does not return a promise fails this subscription, never the process.
    Promise.resolve(next).then(
      (step) => (step.done || this.stopped ? this.end() : void this.deliver(step.value)),
      (error: unknown) => this.failed(error),
    );
  }

  /** Writes one event to the socket (once it has drained, past the threshold), then pulls the next. */
  private async deliver(event: unknown): Promise<void> {
    const { raw, orgId } = this.target;
    const { frames, counters, drainAboveBytes } = this.delivery;
    try {
      let executed = frames.payloadFor(event, this.args, this.group);
      if (executed instanceof Promise) executed = await executed;
      let payload = executed.json;
      if (this.target.onNext) {
        let own = this.hooked(executed.result);
        if (own instanceof Promise) own = await own;
        if (own) payload = own;
      }
      if (this.stopped || !raw.open) return this.end();
      if (orgId !== undefined) counters?.delivered(orgId, 'websocket');
      const frame = textFrame(this.prefix, payload, FRAME_END);
      if (raw.bufferedAmount < drainAboveBytes) {
        raw.sendRaw(frame);
      } else {
        // A client that does not read: stop pulling, so its source queue (bounded) fills up.
        await new Promise<void>((resolve, reject) =>
          raw.sendRaw(frame, (error) => (error ? reject(error) : resolve())),
        );
      }
    } catch (error) {
      return this.failed(error);
    }
    this.pull();
  }

  /** Delivery is over: the source is released, graphql-ws' `next()` resolves done. */
  private end() {
    this.stop();
    this.settle?.({ value: undefined, done: true });
  }

  private failed(error: unknown) {
    this.stop();
    this.fail?.(error);
  }
}

type MaybePromise<T> = T | Promise<T>;

/**
 * Plugin hooks envelop would run on each result of a subscription
 * (`onSubscribeResult` → `onNext`), for subscriptions on the shared path: the
 * hook goes to the subscription's {@link FanoutTarget} (called by
 * `FrameStream` for each delivery, with the result written) instead of
 * wrapping the iterator handed to graphql-ws, which never yields. Its
 * `onEnd`, `onSubscribeError` and every other hook stay with envelop. Every
 * plugin of the pipeline goes through this (see ./yoga.ts).
 */
export function withSharedDeliveryHooks<P extends object>(plugin: P): P {
  const { onSubscribe } = plugin as { onSubscribe?: SubscribeHook };
  if (!onSubscribe) return plugin;
  const wrapped: SubscribeHook = (payload) => {
    const target = (payload.args.rootValue as { [FANOUT]?: FanoutTarget } | undefined)?.[FANOUT];
    const before = onSubscribe.call(plugin, payload);
    if (!target) return before;
    return then(before, (hooks) => {
      const onSubscribeResult = hooks?.onSubscribeResult;
      if (!onSubscribeResult) return hooks;
      return {
        ...hooks,
        onSubscribeResult: (resultPayload: unknown) => {
          const after = onSubscribeResult.call(hooks, resultPayload);
          if (!after?.onNext) return after;
          (target.onNext ??= []).push(after.onNext);
          return { ...after, onNext: undefined };
        },
      };
    });
  };
  return { ...plugin, onSubscribe: wrapped };
}

/** envelop's `onSubscribe` hook, as far as {@link withSharedDeliveryHooks} looks into it. */
type SubscribeHook = (payload: { args: ExecutionArgs }) => MaybePromise<void | {
  onSubscribeResult?: (payload: unknown) => void | { onNext?: SubscriptionNextHook; onEnd?: () => void };
  onSubscribeError?: unknown;
}>;

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

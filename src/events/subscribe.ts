import { AsyncLocalStorage } from 'node:async_hooks';
import { GraphQLError } from 'graphql';
import type { AccessSignal } from '../lib/access-signal.js';
import type { EventBus, Unlisten } from './bus.js';
import type { Channel } from './channel.js';
import { resumeFailed } from '../errors.js';
import type { HistoryEvent, HistoryReplay } from './history.js';
import { compareOffsets, currentResumePoint, positionOf, tagOffset, type Offset } from './offsets.js';

/** How a subscription treats the events of its channels. */
export interface SubscribeOptions<Payload> {
  /** Keeps only the events this subscriber may see. */
  filter?: (payload: Payload) => boolean;
  /**
   * True for an event that revokes the subscription (the resource was deleted,
   * the viewer was removed): it is delivered, and nothing after it.
   */
  isLast?: (payload: Payload) => boolean;
  /** Ends the subscription, e.g. when the viewer's token expires. */
  signal?: AccessSignal;
  /**
   * Events held for a subscriber that is not reading (default: the bus's
   * SUBSCRIPTION_MAX_QUEUED_EVENTS). Past it the subscription ends with a
   * `SLOW_CONSUMER` error rather than growing without bound, and the
   * WebSocket transport closes the socket with 4413.
   */
  maxQueued?: number;
  /**
   * Replays the events after this offset first (default: the transport's
   * resume point, see `withResumePoint`); when the bus no longer keeps them
   * all, the subscription fails with `RESUME_FAILED` instead.
   */
  after?: Offset;
}

/** `extensions.code` of the error that ends a subscription whose client does not read. */
export const SLOW_CONSUMER_CODE = 'SLOW_CONSUMER';

const overflowHandlers = new AsyncLocalStorage<() => void>();

/**
 * Runs `operation` so that every subscription it makes calls `onOverflow`
 * the moment its queue overflows. A stalled client never pulls the
 * `SLOW_CONSUMER` error, so the transport learns of it this way and drops
 * the connection (the WebSocket transport closes it with 4413).
 */
export function withOverflowHandler<T>(onOverflow: () => void, operation: () => T): T {
  return overflowHandlers.run(onOverflow, operation);
}

/** Default for {@link SubscribeOptions.maxQueued}. */
export const DEFAULT_MAX_QUEUED_EVENTS = 1000;

/**
 * Subscribes to one or more channels and resolves once every one is live,
 * so an event published after the resolver returns is never missed.
 * The iterator's `return()` ends it at once and releases the channels.
 *
 * Resuming (an `after` offset, and a bus that keeps history): the channels
 * are heard first, their events held; then the history after the offset is
 * read, a page at a time as the subscriber reads, and goes through the same
 * `filter` and `isLast` as live events (those of this subscriber, whoever
 * the offset came from); then the held live events newer than the last
 * replayed one follow. Nothing falls in between, nothing comes twice; memory
 * holds a page plus the held live events, at most `maxQueued` of them (past
 * it the subscriber is a slow consumer, and resumes again from its last
 * offset). A history that may have lost some of those events fails the
 * subscription with `RESUME_FAILED` (here, or when a later page finds them
 * gone), so the client refetches rather than miss them.
 */
export async function subscribe<Payload>(
  bus: EventBus,
  channels: Channel<Payload> | readonly Channel<Payload>[],
  options: SubscribeOptions<Payload> = {},
): Promise<EventSubscription<Payload>> {
  const after = options.after ?? currentResumePoint();
  const history = after && bus.history;
  const stream = new EventStream<Payload>({ maxQueued: bus.maxQueuedEvents, ...options }, Boolean(history));
  const list = typeof channels === 'string' ? [channels] : channels;
  const settled = await Promise.allSettled(list.map((name) => bus.listen(name, stream.push)));
  stream.attach(settled.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : [])));
  const failed = settled.find((result) => result.status === 'rejected');
  if (failed) {
    // Channels that did subscribe are released with the stream.
    await stream.return();
    throw failed.reason;
  }
  if (history) {
    const replay = history.read(list, after);
    let first: HistoryEvent[] | undefined;
    try {
      first = await replay.next();
    } catch (error) {
      await stream.return();
      throw error;
    }
    if (!first) {
      await stream.return();
      throw resumeFailed();
    }
    stream.resume(replay, first, after);
  }
  return stream;
}

/** A live subscription: an async iterator whose `return()` ends it at once. */
export interface EventSubscription<Payload> extends AsyncIterableIterator<Payload> {
  return(): Promise<IteratorResult<Payload>>;
}

class EventStream<Payload> implements EventSubscription<Payload> {
  private readonly queue: Payload[] = [];
  /** Live events heard while the history is replayed (resuming), in arrival order. */
  private held: Payload[] | undefined;
  /** The rest of the replay, pulled a page at a time when the queue is empty. */
  private replay: HistoryReplay | undefined;
  /** The position of the last event taken: one at or before it (seen twice) is dropped. */
  private last: Offset | undefined;
  private waiting: ((result: IteratorResult<Payload>) => void) | undefined;
  private failWaiting: ((error: unknown) => void) | undefined;
  private closing = false;
  private finished = false;
  private failure: unknown;
  /** Releases the channels' listeners; most subscriptions have one channel, so one function, no array. */
  private unlisten: Unlisten | undefined;
  private readonly onAbort = () => this.close();
  /** The transport's handler, from the operation that made this subscription. */
  private readonly onOverflow = overflowHandlers.getStore();

  /** `resuming`: live events are held until {@link resume}. */
  constructor(
    private readonly options: SubscribeOptions<Payload>,
    resuming = false,
  ) {
    if (resuming) this.held = [];
    options.signal?.addEventListener('abort', this.onAbort, { once: true });
    if (options.signal?.aborted) this.close();
  }

  attach(unlistens: Unlisten[]) {
    this.unlisten = unlistens.length === 1 ? unlistens[0] : () => unlistens.forEach((unlisten) => unlisten());
    // Ended (returned, aborted) while the listeners were being made.
    if (this.finished || this.closing) this.release();
  }

  /**
   * Takes one event of the channels. A `filter` that throws drops the event
   * for this subscriber alone: the error goes back to the bus, which logs
   * and counts it and carries on with the other listeners. An `isLast` that
   * throws cannot tell whether the event ends the viewer's access, so the
   * subscription ends (without the event), as it would if access was lost.
   */
  readonly push = (payload: Payload) => {
    if (this.closing || this.finished) return;
    if (this.held) {
      if (this.held.length >= (this.options.maxQueued ?? DEFAULT_MAX_QUEUED_EVENTS)) this.overflow();
      else this.held.push(payload);
      return;
    }
    this.accept(payload, false);
  };

  /**
   * Starts delivering the replay after `after`: its first page now, the
   * next ones as the subscriber reads, then the live events held meanwhile
   * (those the replay already delivered are dropped by position), then
   * live events as they come.
   */
  resume(replay: HistoryReplay, first: readonly HistoryEvent[], after: Offset) {
    this.held ??= [];
    // Only a recovered offset is a position of this subscription's organisation.
    this.last = after;
    this.replay = replay;
    this.deliverPage(first);
  }

  /**
   * Delivers a page of the replay (empty: the replay is over, the held live
   * events follow). A replayed event whose filter throws is dropped for
   * this subscriber alone, as a live one would be.
   */
  private deliverPage(page: readonly HistoryEvent[]) {
    if (page.length === 0) {
      const held = this.held ?? [];
      this.replay = this.held = undefined;
      for (const payload of held) this.deliverOwn(payload, false);
      return;
    }
    for (const event of page) {
      tagOffset(event.payload, event.text, event.offset);
      this.deliverOwn(event.payload as Payload, true);
    }
  }

  /** Reads the replay's next page into the queue; a history that lost it ends the subscription with `RESUME_FAILED`. */
  private async pull(replay: HistoryReplay) {
    let page: HistoryEvent[] | undefined;
    let error: unknown;
    try {
      page = await replay.next();
    } catch (thrown) {
      error = thrown;
    }
    if (this.closing || this.finished) return;
    if (page) return this.deliverPage(page);
    this.failure = error ?? resumeFailed();
    this.replay = this.held = undefined;
    this.close();
  }

  /** Delivers an event outside the bus's call: a filter's failure drops it here. */
  private deliverOwn(payload: Payload, replayed: boolean) {
    if (this.closing || this.finished) return;
    try {
      this.accept(payload, replayed);
    } catch {
      // The event is dropped for this subscriber; `accept` has ended the stream if `isLast` threw.
    }
  }

  /**
   * Takes one event. Replayed events are not counted against `maxQueued`
   * (a page at most is queued): a client catching up is not a slow one.
   */
  private accept(payload: Payload, replayed: boolean) {
    if (this.closing || this.finished) return;
    // Positions only grow on a subscription's channels (one clock per organisation, published in
    // order): one that does not was delivered already (a replay and the live stream, a catch-up).
    const at = positionOf(payload);
    if (at) {
      if (this.last && at.epoch === this.last.epoch && compareOffsets(at, this.last) <= 0) return;
      this.last = at;
    }
    const { filter, isLast, maxQueued = DEFAULT_MAX_QUEUED_EVENTS } = this.options;
    if (filter && !filter(payload)) return;
    try {
      if (isLast?.(payload)) this.closing = true;
    } catch (error) {
      this.close();
      throw error;
    }
    const waiting = this.waiting;
    if (waiting) {
      this.waiting = this.failWaiting = undefined;
      waiting({ value: payload, done: false });
    } else if (!replayed && this.queue.length >= maxQueued) {
      this.overflow();
      return;
    } else {
      this.queue.push(payload);
    }
    if (this.closing) this.release();
  }

  /** Ends the subscription of a subscriber that does not read: too many events held for it. */
  private overflow() {
    this.failure = new GraphQLError('Subscription ended: the client is not reading events fast enough', {
      extensions: { code: SLOW_CONSUMER_CODE },
    });
    this.queue.length = 0;
    this.replay = this.held = undefined;
    this.closing = true;
    if (this.onOverflow) queueMicrotask(this.onOverflow);
    this.release();
  }

  /**
   * Not an async function: a subscriber waiting for its next event (most of
   * a subscription's life) holds the one promise it waits on, not that and
   * the async function's own, linked by a job and two resolvers.
   */
  next(): Promise<IteratorResult<Payload>> {
    // Each page pulled only once the previous one is read: memory holds one page at most.
    if (this.queue.length === 0 && this.replay && !this.closing && !this.finished)
      return this.nextAfterPage(this.replay);
    try {
      return this.take();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private async nextAfterPage(replay: HistoryReplay): Promise<IteratorResult<Payload>> {
    await this.pull(replay);
    return this.next();
  }

  /** The next event queued, the failure, the end, or a wait for what comes next. */
  private take(): Promise<IteratorResult<Payload>> {
    if (this.queue.length > 0) return Promise.resolve({ value: this.queue.shift()!, done: false });
    if (this.failure !== undefined) {
      const failure = this.failure;
      this.failure = undefined;
      this.finish();
      return Promise.reject(failure);
    }
    if (this.closing || this.finished) {
      this.finish();
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.failWaiting = reject;
    });
  }

  return(): Promise<IteratorResult<Payload>> {
    this.queue.length = 0;
    this.replay = this.held = undefined;
    this.failure = undefined;
    this.finish();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<Payload>> {
    this.finish();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  /** Ends after what is queued has been read. */
  private close() {
    this.closing = true;
    this.release();
  }

  private release() {
    const unlisten = this.unlisten;
    this.unlisten = undefined;
    unlisten?.();
    this.options.signal?.removeEventListener('abort', this.onAbort);
    if (this.waiting || this.failWaiting) {
      if (this.failure !== undefined) {
        const reject = this.failWaiting!;
        this.waiting = this.failWaiting = undefined;
        const failure = this.failure;
        this.failure = undefined;
        this.finished = true;
        reject(failure);
      } else if (this.queue.length === 0) {
        this.finish();
      }
    }
  }

  private finish() {
    this.closing = true;
    this.finished = true;
    const waiting = this.waiting;
    this.waiting = this.failWaiting = undefined;
    this.release();
    waiting?.({ value: undefined, done: true });
  }
}

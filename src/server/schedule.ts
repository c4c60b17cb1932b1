/** A call on a {@link Schedule}, to cancel it with. */
export interface Scheduled {
  /** The bucket (tick number) it sits in; -1 once it has run or was cancelled. */
  readonly tick: number;
}

/** One scheduled call: a shared function and its argument, so callers need no closure per item. */
interface Entry<T = unknown> extends Scheduled {
  run: (item: T) => void;
  item: T;
  tick: number;
}

/**
 * Every per-socket deadline of an instance (keep-alive checks, token
 * expiries) on ONE timer instead of one `setTimeout` per socket: calls are
 * kept in buckets of `tickMs`, and a single interval runs the buckets that
 * are due. A call runs at or after its time, at most `tickMs` (plus any
 * event-loop delay) late, never early; calls of one bucket run in the order
 * they were scheduled. The interval runs only while something is scheduled
 * and never keeps the process alive.
 */
export function createSchedule({
  onError,
  tickMs = 250,
  now = Date.now,
}: {
  /** Told of a call that threw; the other calls of its bucket still run. */
  onError: (error: unknown) => void;
  tickMs?: number;
  now?: () => number;
}) {
  const buckets = new Map<number, Set<Entry>>();
  let size = 0;
  /** The last tick whose bucket has been (or is being) run: new calls go after it. */
  let lastTick = Math.floor(now() / tickMs);
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const runBucket = (tick: number) => {
    const bucket = buckets.get(tick);
    if (!bucket) return;
    buckets.delete(tick);
    for (const entry of bucket) {
      entry.tick = -1;
      size--;
      try {
        entry.run(entry.item);
      } catch (error) {
        // One failing call must not cost the rest of the bucket their turn.
        onError(error);
      }
    }
  };

  const advance = () => {
    const current = Math.floor(now() / tickMs);
    if (current - lastTick > buckets.size) {
      // After a long stall (or a clock jump) walking the buckets is cheaper than walking the ticks.
      const due = [...buckets.keys()].filter((tick) => tick <= current).sort((a, b) => a - b);
      lastTick = current;
      for (const tick of due) runBucket(tick);
    } else {
      while (lastTick < current) runBucket(++lastTick);
    }
    if (size === 0) {
      clearInterval(timer);
      timer = undefined;
    }
  };

  return {
    /**
     * Calls `run(item)` once `at` (epoch ms) has passed. Pass a function shared
     * by every item (the item carries the state): one closure for the whole
     * schedule, not one per socket.
     */
    at<T>(at: number, run: (item: T) => void, item: T): Scheduled {
      if (closed) return { tick: -1 };
      if (!timer) {
        lastTick = Math.floor(now() / tickMs);
        timer = setInterval(advance, tickMs);
        timer.unref();
      }
      // Never in a bucket already run (or running): the next one at the earliest.
      const tick = Math.max(Math.ceil(at / tickMs), lastTick + 1);
      const entry: Entry<T> = { run, item, tick };
      let bucket = buckets.get(tick);
      if (!bucket) buckets.set(tick, (bucket = new Set()));
      bucket.add(entry as Entry);
      size++;
      return entry;
    },
    /** Cancels a call; safe with `undefined`, more than once, and after it has run. */
    cancel(scheduled: Scheduled | undefined) {
      if (!scheduled || scheduled.tick < 0) return;
      const entry = scheduled as Entry;
      const bucket = buckets.get(entry.tick);
      if (bucket?.delete(entry)) {
        size--;
        if (bucket.size === 0) buckets.delete(entry.tick);
      }
      entry.tick = -1;
    },
    /** Calls scheduled and not yet run or cancelled. */
    get size() {
      return size;
    },
    /** Drops every scheduled call and stops the timer (shutdown). */
    close() {
      closed = true;
      buckets.clear();
      size = 0;
      clearInterval(timer);
      timer = undefined;
    },
  };
}
export type Schedule = ReturnType<typeof createSchedule>;

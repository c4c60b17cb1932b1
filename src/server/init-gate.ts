/**
 * Bounds work running at once, first come first served: what is past the
 * bound waits in a queue and starts as soon as a running one settles.
 *
 * The WebSocket transport runs each `connection_init` (token, connection
 * slot, resume answer, presence write and publish) through one: in a
 * reconnect storm of thousands of clients, handshakes all started at once
 * would each hold promises and Redis replies and share the event loop with
 * the upgrades still queued in the accept backlog, so every one of them
 * finishes late and many past the clients' handshake timeout. Bounded, the
 * inits that run finish at the speed of a quiet server, the ones waiting
 * cost a queue entry, and the upgrades keep being answered in between.
 */
export interface Gate {
  /** Runs `work` once fewer than the bound are running; settles as it does. */
  run<T>(work: () => Promise<T>): Promise<T>;
  /** Running now. */
  readonly running: number;
  /** Waiting for a turn. */
  readonly waiting: number;
}

export function createGate(limit: number): Gate {
  if (!(limit >= 1)) throw new RangeError('A gate lets at least one through');
  let running = 0;
  // A FIFO of starters: `head` moves forward instead of shifting the array on every turn.
  let queue: (() => void)[] = [];
  let head = 0;
  const next = () => {
    running--;
    if (head < queue.length) {
      const start = queue[head]!;
      queue[head++] = undefined as never;
      if (head > 1024 && head * 2 > queue.length) {
        queue = queue.slice(head);
        head = 0;
      }
      start();
    }
  };
  const start = <T>(work: () => Promise<T>): Promise<T> => {
    running++;
    let settled: Promise<T>;
    try {
      settled = work();
    } catch (error) {
      settled = Promise.reject(error);
    }
    return settled.finally(next);
  };
  return {
    run(work) {
      if (running < limit) return start(work);
      return new Promise((resolve, reject) => queue.push(() => void start(work).then(resolve, reject)));
    },
    get running() {
      return running;
    },
    get waiting() {
      return queue.length - head;
    },
  };
}

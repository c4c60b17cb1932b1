import type { ChildProcess } from 'node:child_process';
import { start } from './children.js';
import { Histogram } from './histogram.js';
import {
  emptyStats,
  type ClientTarget,
  type ConnectTiming,
  type FromWorker,
  type ToWorker,
  type WorkerStats,
} from './protocol.js';

/** Client sockets one worker process may hold (fd cap 20,000 per process, minus headroom). */
export const MAX_PER_WORKER = 9_900;

interface Worker {
  child: ChildProcess;
  held: number;
  waiting: Map<FromWorker['type'], (message: FromWorker) => void>;
}

const sum = (list: WorkerStats[]): WorkerStats => {
  const total = emptyStats();
  for (const s of list) {
    total.open += s.open;
    total.failed += s.failed;
    total.dropped += s.dropped;
    total.live += s.live;
    total.received += s.received;
    total.done += s.done;
    total.protocolErrors += s.protocolErrors;
    total.lastAt = Math.max(total.lastAt, s.lastAt);
  }
  return total;
};

/** Rotates 127.0.0.2…127.0.0.254 so no source address runs out of ephemeral ports (TIME_WAIT). */
let nextAddress = 2 + Math.floor(Math.random() * 200);
function sourceAddress(): string {
  const address = `127.0.0.${nextAddress}`;
  nextAddress = nextAddress >= 254 ? 2 : nextAddress + 1;
  return address;
}

/**
 * Subscriber clients in worker processes (each from its own 127.0.0.x),
 * driven over IPC: connect, arm a run, read counters and histograms.
 */
export class Fleet {
  private constructor(private readonly workers: Worker[]) {}

  static spawn(workerFile: string, count: number): Fleet {
    const workers = Array.from({ length: count }, () => {
      const child = start(process.execPath, [workerFile], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        env: { ...process.env, BENCH_LOCAL_ADDRESS: sourceAddress() },
      });
      const worker: Worker = { child, held: 0, waiting: new Map() };
      child.on('message', (message: FromWorker) => {
        const resolve = worker.waiting.get(message.type);
        worker.waiting.delete(message.type);
        resolve?.(message);
      });
      return worker;
    });
    return new Fleet(workers);
  }

  private ask<T extends FromWorker['type']>(
    worker: Worker,
    message: ToWorker,
    reply: T,
    timeoutMs = 120_000,
  ): Promise<Extract<FromWorker, { type: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`client worker did not answer ${message.type}`)), timeoutMs);
      const onExit = () => reject(new Error(`client worker exited during ${message.type}`));
      worker.child.once('exit', onExit);
      worker.waiting.set(reply, (answer) => {
        clearTimeout(timer);
        worker.child.off('exit', onExit);
        resolve(answer as Extract<FromWorker, { type: T }>);
      });
      worker.child.send(message);
    });
  }

  /** Opens `count` more connections, spread over the workers with room; resolves with the totals. */
  async connect(target: ClientTarget, count: number, firstUser: number, concurrency = 64): Promise<WorkerStats> {
    await this.spread(count, firstUser, (share, user) => ({
      type: 'connect',
      target,
      count: share,
      firstUser: user,
      concurrency,
    }));
    return this.stats();
  }

  /**
   * A reconnect storm: every worker signs its users' tokens first, then opens
   * all its `count` share at once. Resolves with when the first connect
   * started and the last settled (clock ms), and the failures by cause.
   */
  async storm(target: ClientTarget, count: number, firstUser: number): Promise<ConnectTiming & WorkerStats> {
    const timings = await this.spread(count, firstUser, (share, user) => ({
      type: 'connect',
      target,
      count: share,
      firstUser: user,
      concurrency: share,
      presign: true,
    }));
    const failures: Record<string, number> = {};
    for (const { failures: each } of timings) {
      for (const [cause, n] of Object.entries(each)) failures[cause] = (failures[cause] ?? 0) + n;
    }
    return {
      ...(await this.stats()),
      startedAt: Math.min(...timings.map((t) => t.startedAt)),
      settledAt: Math.max(...timings.map((t) => t.settledAt)),
      failures,
    };
  }

  private async spread(
    count: number,
    firstUser: number,
    message: (share: number, firstUser: number) => ToWorker,
  ): Promise<ConnectTiming[]> {
    const room = this.workers.reduce((n, w) => n + (MAX_PER_WORKER - w.held), 0);
    if (count > room) throw new Error(`${count} connections exceed the workers' capacity (${room})`);
    const jobs: Promise<ConnectTiming>[] = [];
    let left = count;
    let user = firstUser;
    const free = this.workers.filter((w) => w.held < MAX_PER_WORKER);
    for (let i = 0; i < free.length && left > 0; i++) {
      const worker = free[i]!;
      const share = Math.min(MAX_PER_WORKER - worker.held, Math.ceil(left / (free.length - i)));
      worker.held += share;
      jobs.push(this.ask(worker, message(share, user), 'connected', 300_000).then((answer) => answer.timing));
      user += share;
      left -= share;
    }
    return Promise.all(jobs);
  }

  async stats(): Promise<WorkerStats> {
    const answers = await Promise.all(this.workers.map((w) => this.ask(w, { type: 'stats' }, 'stats')));
    return sum(answers.map((a) => a.stats));
  }

  async arm(run: number, expected: number) {
    await Promise.all(this.workers.map((w) => this.ask(w, { type: 'arm', run, expected }, 'armed')));
  }

  async report(): Promise<{ stats: WorkerStats; histogram: Histogram }> {
    const answers = await Promise.all(this.workers.map((w) => this.ask(w, { type: 'report' }, 'report')));
    const histogram = new Histogram();
    for (const answer of answers) histogram.merge(answer.histogram, answer.max);
    return { stats: sum(answers.map((a) => a.stats)), histogram };
  }

  pids(): number[] {
    return this.workers.map((w) => w.child.pid!);
  }

  async close() {
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.child.exitCode !== null || w.child.signalCode !== null) return resolve();
            const timer = setTimeout(() => w.child.kill('SIGKILL'), 5000);
            w.child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            w.child.send({ type: 'exit' } satisfies ToWorker);
          }),
      ),
    );
  }
}

/**
 * A log-bucketed latency histogram (2 % resolution from 10 µs to 10 min):
 * O(1) to record, small to send over IPC, exact to merge.
 */
const MIN_MS = 0.01;
const STEP = Math.log(1.02);
export const BUCKETS = 1200;

export function bucketOf(ms: number): number {
  if (!(ms > MIN_MS)) return 0;
  const b = Math.floor(Math.log(ms / MIN_MS) / STEP) + 1;
  return b >= BUCKETS ? BUCKETS - 1 : b;
}

/** Upper bound of a bucket, in ms. */
function upperOf(bucket: number): number {
  return MIN_MS * Math.exp(bucket * STEP);
}

export class Histogram {
  readonly counts = new Float64Array(BUCKETS);
  total = 0;
  max = 0;

  record(ms: number) {
    this.counts[bucketOf(ms)]! += 1;
    this.total++;
    if (ms > this.max) this.max = ms;
  }

  /** Non-empty buckets as [bucket, count] pairs. */
  sparse(): [number, number][] {
    const out: [number, number][] = [];
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i]) out.push([i, this.counts[i]!]);
    return out;
  }

  merge(sparse: [number, number][], max: number) {
    for (const [bucket, count] of sparse) {
      this.counts[bucket]! += count;
      this.total += count;
    }
    if (max > this.max) this.max = max;
  }

  /** The q-quantile (0..1), in ms; NaN when empty. */
  quantile(q: number): number {
    if (this.total === 0) return NaN;
    const rank = Math.ceil(q * this.total);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(upperOf(i), this.max);
    }
    return this.max;
  }
}

import { Counter, Gauge, type Registry } from 'prom-client';

/** One labelled value of a metric read at scrape time. */
export type Sample = readonly [labels: Record<string, string>, value: number];

interface Exported {
  name: string;
  help: string;
  labelNames?: readonly string[];
  /** The current value (no labels), or one per label set. */
  read: () => number | readonly Sample[];
}

/**
 * A Prometheus counter whose value is read from a plain number the code
 * bumps where things happen: the hot path pays an increment, and
 * prom-client runs only when Prometheus scrapes.
 */
export function exportCounter(registry: Registry, { name, help, labelNames = [], read }: Exported): void {
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      const value = read();
      if (typeof value === 'number') this.inc(value);
      else for (const [labels, count] of value) this.inc(labels, count);
    },
  });
}

/** A Prometheus gauge read at scrape time, like {@link exportCounter}. */
export function exportGauge(registry: Registry, { name, help, labelNames = [], read }: Exported): void {
  new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      const value = read();
      if (typeof value === 'number') this.set(value);
      else for (const [labels, current] of value) this.set(labels, current);
    },
  });
}

/** Samples of a map of counts, one label per key. */
export function samplesOf<K>(label: string, counts: ReadonlyMap<K, number>): Sample[] {
  return [...counts].map(([key, value]) => [{ [label]: String(key) }, value] as const);
}

/** Samples of a record of counts, one label per key. */
export function samplesOfRecord(label: string, counts: Readonly<Record<string, number>>): Sample[] {
  return Object.entries(counts).map(([key, value]) => [{ [label]: key }, value] as const);
}

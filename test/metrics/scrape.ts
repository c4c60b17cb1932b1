import { pino } from 'pino';
import { expect } from 'vitest';
import type { Logger } from '../../src/logger.js';
import { freePort } from '../support/redis-server.js';

/** One scrape of a `/metrics` endpoint, as Prometheus reads it. */
export interface Scrape {
  text: string;
  /** Metric families by name, with their type (`counter`, `gauge`, `histogram`, …). */
  types: Map<string, string>;
  /** A sample's value: `name` with exactly `labels`; undefined when absent. */
  value(name: string, labels?: Record<string, string>): number | undefined;
}

/** GETs `url` (a metrics listener's `/metrics`) and parses the Prometheus text format. */
export async function scrape(url: string | undefined): Promise<Scrape> {
  expect(url, 'metrics are listening').toBeDefined();
  const response = await fetch(url!);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await response.text();
  const types = new Map<string, string>();
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    const sample = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (sample) samples.set(sampleKey(sample[1]!, parseLabels(sample[2] ?? '')), Number(sample[3]));
  }
  return { text, types, value: (name, labels = {}) => samples.get(sampleKey(name, labels)) };
}

/** A sample's value, polled until it equals `expected` (counters move when a scrape happens to land). */
export async function expectSample(
  url: string | undefined,
  name: string,
  labels: Record<string, string>,
  expected: number,
): Promise<void> {
  await expect
    .poll(async () => (await scrape(url)).value(name, labels) ?? 0, { timeout: 10_000, interval: 50 })
    .toBe(expected);
}

/** Environment turning a test server's metrics listener on, on a free port of loopback. */
export async function metricsOn(): Promise<Record<string, string>> {
  return { METRICS_PORT: String(await freePort()), METRICS_HOST: '127.0.0.1' };
}

/** A logger whose JSON lines the test can read. */
export function capturingLogger(): { logger: Logger; lines: Record<string, any>[] } {
  const lines: Record<string, any>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [, name, value] of text.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[name!] = value!;
  return labels;
}

function sampleKey(name: string, labels: Record<string, string>): string {
  const pairs = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
  return `${name}{${pairs.map(([key, value]) => `${key}=${JSON.stringify(value)}`).join(',')}}`;
}

import { clock, sleep } from './clock.js';
import type { Fleet } from './fleet.js';
import { makeEvent, PROBE_RUN } from './payload.js';
import { cpuOf } from './proc.js';
import type { WorkerStats } from './protocol.js';
import type { Publisher } from './targets.js';

/** Subscribers connected to one or more instances of a target, and how to publish to them. */
export interface Rig {
  fleet: Fleet;
  publisher: Publisher;
  /** What the connections subscribe to, spread evenly (connection i: topics[i % length]). */
  topics: string[];
  /** Server process ids, for CPU time. */
  serverPids: number[];
}

let runs = PROBE_RUN;
const round = (value: number, digits = 1) => Number(value.toFixed(digits));
const serverCpu = (rig: Rig) => rig.serverPids.reduce((total, pid) => total + cpuOf(pid), 0);
const subscribersOf = (stats: WorkerStats) => stats.open - stats.dropped;

/**
 * Publishes probe events until every subscribed connection has received
 * one: the subscription is live end to end, whatever the protocol.
 */
export async function waitLive(rig: Rig, timeoutMs = 90_000): Promise<WorkerStats> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await rig.publisher.publish(rig.topics.map((topic) => makeEvent(topic, PROBE_RUN, 0)));
    for (let i = 0; i < 10; i++) {
      await sleep(100);
      const stats = await rig.fleet.stats();
      if (stats.live >= subscribersOf(stats)) return stats;
      if (Date.now() > deadline) {
        throw new Error(`only ${stats.live} of ${subscribersOf(stats)} subscribers received a probe event`);
      }
    }
  }
}

export interface DeliveryResult {
  subscribers: number;
  events: number;
  expected: number;
  delivered: number;
  /** Every subscriber got every event before the deadline. */
  complete: boolean;
  /** From the first publish to the last receipt. */
  lastSubscriberMs: number;
  deliveriesPerSec: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  /** Server CPU time (user + system) per delivery: robust to a busy shared machine. */
  serverCpuUsPerDelivery: number;
  serverCpuSeconds: number;
}

async function collect(rig: Rig, subscribers: number, events: number, t0: number, cpu0: number, deadline: number) {
  for (;;) {
    const stats = await rig.fleet.stats();
    if (stats.done >= subscribers || clock() > deadline) break;
    await sleep(25);
  }
  const { stats, histogram } = await rig.fleet.report();
  const cpu = serverCpu(rig) - cpu0;
  const elapsed = Math.max(stats.lastAt - t0, 0.001);
  return {
    subscribers,
    events,
    expected: subscribers * events,
    delivered: stats.received,
    complete: stats.done >= subscribers,
    lastSubscriberMs: round(elapsed),
    deliveriesPerSec: Math.round(stats.received / (elapsed / 1000)),
    latencyMs: {
      p50: round(histogram.quantile(0.5), 2),
      p90: round(histogram.quantile(0.9), 2),
      p99: round(histogram.quantile(0.99), 2),
      max: round(histogram.max, 2),
    },
    serverCpuUsPerDelivery: round((cpu * 1e6) / Math.max(stats.received, 1), 2),
    serverCpuSeconds: round(cpu, 2),
  } satisfies DeliveryResult;
}

/** (a) `events` events per topic published as fast as one publisher can (one pipeline), to every subscriber. */
export async function burst(rig: Rig, events: number, timeoutMs: number): Promise<DeliveryResult> {
  const subscribers = subscribersOf(await rig.fleet.stats());
  const run = ++runs;
  await rig.fleet.arm(run, events);
  const cpu0 = serverCpu(rig);
  const t0 = clock();
  await rig.publisher.publish(
    Array.from({ length: events }, (_, seq) => rig.topics.map((topic) => makeEvent(topic, run, seq))).flat(),
  );
  return collect(rig, subscribers, events, t0, cpu0, t0 + timeoutMs);
}

/**
 * (b)/(d) Events at a fixed rate, round-robin over the topics, so that
 * deliveries reach `deliveriesPerSec`, for about `seconds` (at least one
 * event per topic; every topic gets as many).
 */
export async function steady(
  rig: Rig,
  deliveriesPerSec: number,
  seconds: number,
  drainMs = 10_000,
): Promise<DeliveryResult & { eventsPerSec: number }> {
  const subscribers = subscribersOf(await rig.fleet.stats());
  const topics = rig.topics.length;
  const eventsPerSec = deliveriesPerSec / (subscribers / topics);
  const perTopic = Math.max(1, Math.round((eventsPerSec * seconds) / topics));
  const events = perTopic * topics;
  const interval = 1000 / eventsPerSec;
  const run = ++runs;
  await rig.fleet.arm(run, perTopic);
  const cpu0 = serverCpu(rig);
  const t0 = clock();
  for (let seq = 0; seq < events; seq++) {
    const wait = t0 + seq * interval - clock();
    if (wait > 0.5) await sleep(wait);
    await rig.publisher.publish([makeEvent(rig.topics[seq % topics]!, run, Math.floor(seq / topics))]);
  }
  const result = await collect(rig, subscribers, perTopic, t0, cpu0, clock() + drainMs);
  return { ...result, eventsPerSec: round(eventsPerSec, 2) };
}

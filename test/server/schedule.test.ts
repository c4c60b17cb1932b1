import { afterEach, describe, expect, it, vi } from 'vitest';
import { createSchedule } from '../../src/server/schedule.js';

/** No call in these tests throws unless it means to. */
const fail = (error: unknown) => {
  throw error;
};

afterEach(() => {
  vi.useRealTimers();
});

describe('the shared schedule (one timer for every socket deadline)', () => {
  it('runs each call at or after its time, at most one tick late, on one timer', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const schedule = createSchedule({ onError: fail, tickMs: 100 });
    const ran: Array<{ item: number; at: number }> = [];
    const run = (item: number) => ran.push({ item, at: Date.now() });
    for (let i = 0; i < 1000; i++) schedule.at(1_000_000 + 50 + i * 7, run, i);
    expect(schedule.size).toBe(1000);
    // A thousand deadlines, one timer.
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(8_000);
    expect(ran).toHaveLength(1000);
    for (const { item, at } of ran) {
      const due = 1_000_000 + 50 + item * 7;
      expect(at).toBeGreaterThanOrEqual(due);
      expect(at - due).toBeLessThanOrEqual(100);
    }
    // Due order, and scheduling order within a bucket.
    expect(ran.map((r) => r.item)).toEqual([...Array(1000).keys()]);
    // Nothing left: the timer has stopped.
    expect(schedule.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('never runs a cancelled call, and cancelling twice or after the run is harmless', () => {
    vi.useFakeTimers({ now: 0 });
    const schedule = createSchedule({ onError: fail, tickMs: 10 });
    const ran: string[] = [];
    const run = (item: string) => ran.push(item);
    const kept = schedule.at(25, run, 'kept');
    const dropped = schedule.at(25, run, 'dropped');
    const later = schedule.at(500, run, 'later');
    schedule.cancel(dropped);
    schedule.cancel(dropped);
    schedule.cancel(undefined);
    vi.advanceTimersByTime(100);
    expect(ran).toEqual(['kept']);
    schedule.cancel(kept);
    schedule.cancel(later);
    expect(schedule.size).toBe(0);
    vi.advanceTimersByTime(1000);
    expect(ran).toEqual(['kept']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('runs a call scheduled from a running call (a keep-alive re-arming itself) in a later tick', () => {
    vi.useFakeTimers({ now: 0 });
    const schedule = createSchedule({ onError: fail, tickMs: 10 });
    const rounds: number[] = [];
    const round = (state: { n: number }) => {
      rounds.push(Date.now());
      // Already due: still not in the bucket being run, so no endless loop within one tick.
      if (++state.n < 5) schedule.at(Date.now() - 1, round, state);
    };
    schedule.at(10, round, { n: 0 });
    vi.advanceTimersByTime(10);
    expect(rounds).toHaveLength(1);
    vi.advanceTimersByTime(100);
    expect(rounds).toEqual([10, 20, 30, 40, 50]);
  });

  it('catches up after the event loop stalled: every overdue call runs in one go, in due order', () => {
    let clock = 0;
    vi.useFakeTimers({ now: 0 });
    const schedule = createSchedule({ onError: fail, tickMs: 10, now: () => clock });
    const ran: number[] = [];
    const run = (item: number) => ran.push(item);
    schedule.at(30, run, 3);
    schedule.at(10, run, 1);
    schedule.at(1_000_000, run, 4);
    schedule.at(20, run, 2);
    // A stall of an hour: one timer turn runs everything that is due, by walking the buckets.
    clock = 3_600_000;
    vi.advanceTimersByTime(10);
    expect(ran).toEqual([1, 2, 3, 4]);
  });

  it('keeps going when one call throws, and drops everything on close', () => {
    vi.useFakeTimers({ now: 0 });
    const failures: unknown[] = [];
    const schedule = createSchedule({ onError: (error) => failures.push(error), tickMs: 10 });
    const ran: string[] = [];
    const boom = new Error('boom');
    schedule.at(
      10,
      () => {
        throw boom;
      },
      undefined,
    );
    schedule.at(10, (item: string) => ran.push(item), 'after');
    vi.advanceTimersByTime(10);
    expect(ran).toEqual(['after']);
    expect(failures).toEqual([boom]);
    schedule.at(50, (item: string) => ran.push(item), 'never');
    schedule.close();
    expect(schedule.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    schedule.at(60, (item: string) => ran.push(item), 'after close');
    vi.advanceTimersByTime(1000);
    expect(ran).toEqual(['after']);
  });
});

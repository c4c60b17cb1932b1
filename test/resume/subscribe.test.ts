import { describe, expect, it } from 'vitest';
import { createMemoryEventBus } from '../../src/events/memory.js';
import { offsetOf, parseOffset } from '../../src/events/offsets.js';
import { subscribe } from '../../src/events/subscribe.js';
import { topics } from '../../src/events/topics.js';
import type { SessionEvent } from '../../src/sessions/events.js';
import { dispose } from '../support/harness.js';

const qr = (n: number): SessionEvent => ({
  __typename: 'QrCodeUpdated',
  sessionId: 's1',
  qrCode: `qr-${n}`,
  occurredAt: new Date().toISOString(),
});

describe('subscribe() resuming after an offset', () => {
  it('replays more than maxQueued events and takes the live ones that raced the replay, without overflowing', async () => {
    const bus = createMemoryEventBus({ resumeWindowMs: 60_000 });
    dispose(() => bus.close());
    const channel = topics.session('org-a', 's1');
    const first = await subscribe(bus, channel);
    await bus.publish(channel, qr(0));
    const seen = (await first.next()).value!;
    await first.return();
    const after = parseOffset(offsetOf(seen))!;
    expect(after).toBeDefined();
    for (let n = 1; n <= 9; n++) await bus.publish(channel, qr(n));

    const resuming = subscribe(bus, channel, { after, maxQueued: 3 });
    // Published while the subscription reads the history: held, then let through after the replay.
    await bus.publish(channel, qr(10));
    await bus.publish(channel, qr(11));
    const resumed = await resuming;
    await bus.publish(channel, qr(12));
    const codes: string[] = [];
    while (codes.length < 12) {
      const step = await resumed.next();
      if (step.done) break;
      codes.push((step.value as { qrCode: string }).qrCode);
    }
    expect(codes).toEqual(Array.from({ length: 12 }, (_, i) => `qr-${i + 1}`));
    await resumed.return();
  });
});

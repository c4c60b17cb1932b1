import { randomBytes } from 'node:crypto';
import { keyPart } from '../lib/keys.js';
import {
  channelOrg,
  isRecoverable,
  pagedReplay,
  recordingOrg,
  type ChannelPage,
  type EventHistory,
} from './history.js';
import { compareOffsets, formatOffset, type Offset } from './offsets.js';

/** An event kept in process: its id and its payload as published (JSON). */
interface Kept {
  offset: Offset;
  json: string;
}

/**
 * The embedded engine's history: per channel, the events of the last
 * `windowMs`, in process. The epoch is drawn per process, so an offset
 * from before a restart is answered "not recovered" rather than replayed
 * as empty. Offsets come from one clock per organisation, as with Redis.
 */
export function createMemoryHistory(options: {
  windowMs: number;
  /** Checks a payload read back against its channel's schema (see `EventIntake.check`). */
  check: (channel: string, payload: unknown) => boolean;
}) {
  const { windowMs, check } = options;
  const epoch = randomBytes(8).toString('base64url');
  /** The last id given per organisation. */
  const clocks = new Map<string, Offset>();
  const channels = new Map<string, Kept[]>();
  const trim = (kept: Kept[], now: number) => {
    let drop = 0;
    while (drop < kept.length && kept[drop]!.offset.ms < now - windowMs) drop++;
    if (drop > 0) kept.splice(0, drop);
  };
  // Idle channels vanish after the window, as their Redis streams expire.
  const sweeper = setInterval(
    () => {
      const now = Date.now();
      for (const [channel, kept] of channels) {
        trim(kept, now);
        if (kept.length === 0) channels.delete(channel);
      }
    },
    Math.max(windowMs, 1000),
  );
  sweeper.unref();

  const history: EventHistory = {
    windowMs,
    async epoch() {
      return epoch;
    },
    async recoverable(orgId, offsets) {
      const state = { epoch, now: Date.now(), last: clocks.get(keyPart(orgId)) };
      return offsets.map((after) => isRecoverable(after, state, windowMs));
    },
    read(names, after) {
      return pagedReplay(names, after, async (cursors, count) => {
        const now = Date.now();
        const pages: ChannelPage[] = [];
        for (const { channel, after: from } of cursors) {
          const org = channelOrg(channel);
          if (org === undefined || !isRecoverable(from, { epoch, now, last: clocks.get(org) }, windowMs))
            return undefined;
          const kept = channels.get(channel) ?? [];
          let start = kept.findIndex((entry) => compareOffsets(entry.offset, from) > 0);
          if (start < 0) start = kept.length;
          const entries = kept.slice(start, start + count);
          const page: ChannelPage = { events: [], last: entries.at(-1)?.offset, exhausted: entries.length < count };
          for (const entry of entries) {
            const payload = JSON.parse(entry.json) as unknown;
            if (check(channel, payload))
              page.events.push({ offset: entry.offset, text: formatOffset(entry.offset), payload });
          }
          pages.push(page);
        }
        return pages;
      });
    },
  };

  return {
    history,
    /** Keeps an event of `channel` (its payload as JSON) and returns its offset; undefined for a channel without history. */
    record(channel: string, json: string): string | undefined {
      const org = recordingOrg(channel);
      if (org === undefined) return undefined;
      const now = Date.now();
      const last = clocks.get(org);
      const offset: Offset =
        last && last.ms >= now ? { epoch, ms: last.ms, seq: last.seq + 1 } : { epoch, ms: now, seq: 0 };
      clocks.set(org, offset);
      let kept = channels.get(channel);
      if (!kept) channels.set(channel, (kept = []));
      kept.push({ offset, json });
      trim(kept, now);
      return formatOffset(offset);
    },
    close() {
      clearInterval(sweeper);
      channels.clear();
    },
  };
}

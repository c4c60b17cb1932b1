import type { RedisClient } from '../redis.js';
import { keyPart } from '../lib/keys.js';
import {
  channelOrg,
  isRecoverable,
  pagedReplay,
  streamId,
  type ChannelPage,
  type EventHistory,
  type HistoryState,
} from './history.js';
import { formatOffset, parseEpoch, type Offset } from './offsets.js';
import { historyKeys } from './record-redis.js';

/**
 * Reads, in one step: the epoch (KEYS[1]), Redis' time, the clocks of
 * ARGV[1] organisations (the next KEYS), then at most ARGV[2] entries of
 * each remaining key, a channel's stream, after its own start (the next
 * ARGV, exclusive XRANGE starts).
 */
const READ_HISTORY = `
local t = redis.call('TIME')
local out = { redis.call('GET', KEYS[1]) or false, string.format('%d', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)) }
local clocks = tonumber(ARGV[1])
for i = 2, clocks + 1 do out[#out + 1] = redis.call('GET', KEYS[i]) or false end
for i = clocks + 2, #KEYS do out[#out + 1] = redis.call('XRANGE', KEYS[i], ARGV[i - clocks + 1], '+', 'COUNT', ARGV[2]) end
return out`;

type StreamEntry = [id: string, fields: string[]];
type Reply = [epoch: string | null, now: string, ...rest: (string | null | StreamEntry[])[]];

/**
 * The Redis engine's history: a stream per channel, written by
 * RECORD_EVENTS (./record-redis.ts), so a replay reads the subscription's
 * own channels and nothing of other tenants; offsets from a clock per
 * organisation, so a busy organisation touches only its own keys. What is
 * read back is untrusted like any message: `check` validates each payload.
 */
export function createRedisHistory(options: {
  redis: RedisClient;
  prefix: string;
  windowMs: number;
  check: (channel: string, payload: unknown) => boolean;
}): EventHistory {
  const { redis, windowMs, check } = options;
  const keys = historyKeys(options.prefix);

  /** The state of each organisation, and at most `count` entries of each channel after its own position. */
  const load = async (orgs: readonly string[], cursors: readonly { channel: string; after: Offset }[], count = 0) => {
    const names = [keys.epoch, ...orgs.map(keys.clock), ...cursors.map(({ channel }) => keys.stream(channel))];
    const [epoch, now, ...rest] = (await redis.eval(
      READ_HISTORY,
      names.length,
      ...names,
      orgs.length,
      count,
      ...cursors.map(({ after }) => `(${streamId(after)}`),
    )) as Reply;
    const states: HistoryState[] = orgs.map((_, i) => ({
      epoch: epoch ?? undefined,
      now: Number(now),
      last: parseId(rest[i] as string | null),
    }));
    return { epoch: epoch ?? undefined, states, streams: rest.slice(orgs.length) as StreamEntry[][] };
  };

  /** The next page of each channel; undefined when events after a channel's position may be gone. */
  const readPages = async (cursors: readonly { channel: string; after: Offset }[], count: number) => {
    const orgs = [...new Set(cursors.map(({ channel }) => channelOrg(channel)))];
    if (orgs.some((org) => org === undefined)) return undefined;
    const { epoch, states, streams } = await load(orgs as string[], cursors, count);
    if (epoch === undefined) return undefined;
    const byOrg = new Map(orgs.map((org, i) => [org, states[i]!]));
    // Checked at every page: a replay read slower than the window has lost what was trimmed meanwhile.
    const kept = cursors.every(({ channel, after }) => isRecoverable(after, byOrg.get(channelOrg(channel))!, windowMs));
    if (!kept) return undefined;
    const pages: ChannelPage[] = [];
    for (const [i, entries] of streams.entries()) {
      const channel = cursors[i]!.channel;
      const page: ChannelPage = { events: [], exhausted: entries.length < count };
      for (const [id, fields] of entries) {
        const position = parseId(id);
        // Not an id the clocks give: the replay could not go on past it.
        if (!position) return undefined;
        const offset = { epoch, ...position };
        page.last = offset;
        const payload = parseJson(fields[1]);
        if (check(channel, payload)) page.events.push({ offset, text: formatOffset(offset), payload });
      }
      pages.push(page);
    }
    return pages;
  };

  return {
    windowMs,
    async epoch() {
      // Read from Redis (untrusted): it would be written into every offset of a catch-up.
      return parseEpoch(await redis.get(keys.epoch));
    },
    async recoverable(orgId, offsets) {
      const [state] = (await load([keyPart(orgId)], [])).states;
      return offsets.map((after) => isRecoverable(after, state!, windowMs));
    },
    read(channels, after) {
      return pagedReplay(channels, after, readPages);
    },
  };
}

/** The `ms-seq` id Redis holds, or undefined. */
function parseId(id: string | null | undefined): { ms: number; seq: number } | undefined {
  const match = id ? /^(\d{1,15})-(\d{1,15})$/.exec(id) : null;
  return match ? { ms: Number(match[1]), seq: Number(match[2]) } : undefined;
}

/** A stored message, parsed; what is not JSON stays text and fails its schema check. */
function parseJson(text: string | undefined): unknown {
  try {
    return JSON.parse(text ?? '') as unknown;
  } catch {
    return text;
  }
}

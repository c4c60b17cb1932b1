import { runScript, type RedisClient } from '../redis.js';
import type { KeySpace } from '../lib/keys.js';
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
 * Reads, in one step: an organisation's epoch (KEYS[1]), Redis' time, the
 * clocks of ARGV[1] organisations (the next KEYS: 0 or 1, the same
 * organisation's, so one slot), then at most ARGV[2] entries of each
 * remaining key, a channel's stream, after its own start (the next ARGV,
 * exclusive XRANGE starts).
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
  keys: KeySpace;
  windowMs: number;
  check: (channel: string, payload: unknown) => boolean;
}): EventHistory {
  const { redis, windowMs, check } = options;
  const space = options.keys;
  const keys = historyKeys(space);

  /**
   * The state of an organisation (`prefix`: its keys'), and at most `count`
   * entries of each of its channels after its own position.
   */
  const load = async (prefix: string, cursors: readonly { channel: string; after: Offset }[], count = 0) => {
    const orgs = [prefix];
    const names = [keys.epoch(prefix), ...orgs.map(keys.clock), ...cursors.map(({ channel }) => keys.stream(channel))];
    const [epoch, now, ...rest] = (await runScript(redis, READ_HISTORY, names, [
      orgs.length,
      count,
      ...cursors.map(({ after }) => `(${streamId(after)}`),
    ])) as Reply;
    const states: HistoryState[] = orgs.map((_, i) => ({
      epoch: epoch ?? undefined,
      now: Number(now),
      last: parseId(rest[i] as string | null),
    }));
    return { epoch: epoch ?? undefined, states, streams: rest.slice(orgs.length) as StreamEntry[][] };
  };

  /** The next page of each channel; undefined when events after a channel's position may be gone. */
  const readPages = async (cursors: readonly { channel: string; after: Offset }[], count: number) => {
    const orgs = new Set(cursors.map(({ channel }) => channelOrg(channel)));
    // A replay concerns one organisation's channels (its history, epoch and clock are its own).
    if (orgs.size !== 1 || orgs.has(undefined)) return undefined;
    const { epoch, states, streams } = await load(space.ofChannel(cursors[0]!.channel), cursors, count);
    if (epoch === undefined) return undefined;
    // Checked at every page: a replay read slower than the window has lost what was trimmed meanwhile.
    const kept = cursors.every(({ after }) => isRecoverable(after, states[0]!, windowMs));
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
    async epoch(channel) {
      // Read from Redis (untrusted): it would be written into every offset of a catch-up.
      return parseEpoch(await redis.get(keys.epoch(space.ofChannel(channel))));
    },
    async recoverable(orgId, offsets) {
      const [state] = (await load(space.org(orgId), [])).states;
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

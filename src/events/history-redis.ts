import type { RedisClient } from '../redis.js';
import { keyPart } from '../lib/keys.js';
import {
  byOffset,
  channelOrg,
  isRecoverable,
  MAX_REPLAYED_EVENTS,
  streamId,
  type EventHistory,
  type HistoryEvent,
  type HistoryState,
} from './history.js';
import { formatOffset, parseEpoch, type Offset } from './offsets.js';
import { historyKeys } from './record-redis.js';

/**
 * Reads, in one step: the epoch (KEYS[1]), Redis' time, the clocks of
 * ARGV[1] organisations (the next KEYS), then at most ARGV[3] entries after
 * ARGV[2] (an exclusive XRANGE start) of each remaining key, a channel's stream.
 */
const READ_HISTORY = `
local t = redis.call('TIME')
local out = { redis.call('GET', KEYS[1]) or false, string.format('%d', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)) }
local clocks = tonumber(ARGV[1])
for i = 2, clocks + 1 do out[#out + 1] = redis.call('GET', KEYS[i]) or false end
for i = clocks + 2, #KEYS do out[#out + 1] = redis.call('XRANGE', KEYS[i], ARGV[2], '+', 'COUNT', ARGV[3]) end
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

  /** The state of each organisation, and the entries of each channel after `after`. */
  const load = async (orgs: readonly string[], channels: readonly string[], after?: Offset) => {
    const names = [keys.epoch, ...orgs.map(keys.clock), ...channels.map(keys.stream)];
    const start = after ? `(${streamId(after)}` : '-';
    const [epoch, now, ...rest] = (await redis.eval(
      READ_HISTORY,
      names.length,
      ...names,
      orgs.length,
      start,
      MAX_REPLAYED_EVENTS + 1,
    )) as Reply;
    const states: HistoryState[] = orgs.map((_, i) => ({
      epoch: epoch ?? undefined,
      now: Number(now),
      last: parseId(rest[i] as string | null),
    }));
    return { epoch: epoch ?? undefined, states, streams: rest.slice(orgs.length) as StreamEntry[][] };
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
    async read(channels, after) {
      const orgs = [...new Set(channels.map(channelOrg))];
      if (orgs.some((org) => org === undefined)) return undefined;
      const { epoch, states, streams } = await load(orgs as string[], channels, after);
      if (epoch === undefined || !states.every((state) => isRecoverable(after, state, windowMs))) return undefined;
      if (streams.some((entries) => entries.length > MAX_REPLAYED_EVENTS)) return undefined;
      const events: HistoryEvent[] = [];
      streams.forEach((entries, i) => {
        const channel = channels[i]!;
        for (const [id, fields] of entries) {
          const position = parseId(id);
          if (!position) continue;
          const payload = parseJson(fields[1]);
          if (!check(channel, payload)) continue;
          const offset = { epoch, ...position };
          events.push({ offset, text: formatOffset(offset), payload });
        }
      });
      return events.sort(byOffset);
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

import { randomBytes } from 'node:crypto';
import { orgOfChannel, type KeySpace } from '../lib/keys.js';
import { COMMAND_QUEUE_MAX_LENGTH } from './commands.js';
import { redisEventWire } from './change-event.js';
import { recordingOrg } from './history.js';
import type { ChangeEvent } from '../storage/storage.js';

/**
 * Records events on Redis, inside the script that makes a change (so both
 * apply together or not at all) or alone (`EventBus.publish`): this is the
 * one place an event is recorded. Every script that takes events starts
 * with it: ARGV[1] is the number of events, ARGV[2..4] the resume window
 * (ms, 0 = off), the epoch's key and a fresh epoch for a history that has
 * none, ARGV[5] the publishing command (`PUBLISH`, or `SPUBLISH` on a Redis
 * Cluster, whose sharded channels must share the script's slot), then five
 * arguments per event: channel, message (what
 * graphql-redis-subscriptions would publish), the stream of a command,
 * and the event's history stream and organisation clock. The write's own
 * arguments follow, from ARGV[A + 1].
 *
 * - A command (its queue is not empty) is appended to its queue's stream,
 *   trimmed to about a bound, so it waits for a worker rather than being
 *   lost when none listens (see ./commands-redis.ts).
 * - An event of an organisation channel (one whose history is kept, see
 *   `recordingOrg`), while resume is on, gets the next
 *   id of its organisation's clock (`ms-seq`, never behind Redis' time),
 *   is appended under that id to its channel's stream (entries older than
 *   the window trimmed, the stream expiring a window after its last event),
 *   and is published as `{"offset":"<epoch>.<id>","payload":…}`.
 * - Any other event is published as it is.
 *
 * Keys travel in ARGV, not KEYS (the scripts index KEYS by position). On
 * a Redis Cluster that is allowed because the events of one script are of
 * one organisation, and its channels, history, clock, epoch and command
 * streams carry that organisation's hash tag (`keySpace` in
 * src/lib/keys.ts), as do the keys the script declares: all in one slot.
 */
export const RECORD_EVENTS = `
local A = 5 * tonumber(ARGV[1]) + 5
local function record_events()
  local epoch, now, window
  for i = 6, A, 5 do
    if ARGV[i + 2] ~= '' then
      redis.call('XADD', ARGV[i + 2], 'MAXLEN', '~', ${COMMAND_QUEUE_MAX_LENGTH}, '*', 'message', ARGV[i + 1])
    elseif ARGV[i + 3] == '' then
      redis.call(ARGV[5], ARGV[i], ARGV[i + 1])
    else
      if not epoch then
        epoch = redis.call('GET', ARGV[3])
        if not epoch then
          epoch = ARGV[4]
          redis.call('SET', ARGV[3], epoch)
        end
        local t = redis.call('TIME')
        now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        window = tonumber(ARGV[2])
      end
      local ms, seq = now, 0
      local last = redis.call('GET', ARGV[i + 4])
      if last then
        local dash = string.find(last, '-', 1, true)
        local last_ms = tonumber(string.sub(last, 1, dash - 1))
        if last_ms >= now then
          ms = last_ms
          seq = tonumber(string.sub(last, dash + 1)) + 1
        end
      end
      local id = string.format('%d-%d', ms, seq)
      redis.call('SET', ARGV[i + 4], id)
      -- Never fails the change it comes with: at worst this event is not replayable.
      redis.pcall('XADD', ARGV[i + 3], 'MINID', '~', string.format('%d', now - window), id, 'p', ARGV[i + 1])
      redis.call('PEXPIRE', ARGV[i + 3], window)
      redis.call(ARGV[5], ARGV[i], '{"offset":"' .. epoch .. '.' .. id .. '","payload":' .. ARGV[i + 1] .. '}')
    end
  end
end`;

/** Publishes the events of its arguments and nothing else (`EventBus.publish`). */
export const PUBLISH_EVENTS = `${RECORD_EVENTS}
record_events()
return 1`;

/** The Redis keys of the resume history: per organisation, in its slot. */
export function historyKeys(keys: KeySpace) {
  return {
    /** An organisation's current epoch (`prefix`: the organisation's, see {@link KeySpace}): set once, gone only with its data. */
    epoch: (prefix: string) => `${prefix}history-epoch`,
    /** A channel's recent events (channel without the prefix). */
    stream: (channel: string) => `${keys.ofChannel(channel)}history:${channel}`,
    /** The last id given in an organisation. */
    clock: (prefix: string) => `${prefix}history-clock`,
  };
}

/** The leading ARGV of a script that records no event. */
export const NO_EVENTS = ['0', '0', '', '', 'PUBLISH'];

/**
 * Makes the leading ARGV of scripts starting with {@link RECORD_EVENTS}.
 * `orgId`: the organisation whose slot the script runs in (an org-scoped
 * storage's); a command among the events is queued on that organisation's
 * stream. Without it, commands go to the deployment's streams.
 * Throws (a programming error) for events of another organisation than
 * the script's, or of several: on a Redis Cluster they would be in
 * another slot (CROSSSLOT), so they are refused on one Redis too.
 */
export type RedisEventRecorder = (events: readonly ChangeEvent[], orgId?: string) => string[];

/**
 * The recorder of a deployment: its key space, its resume window
 * (RESUME_WINDOW_SECONDS in ms; 0: no history, no offsets), and whether
 * events go over sharded pub/sub (a Redis Cluster).
 */
export function createRedisEventRecorder(
  keys: KeySpace,
  resumeWindowMs = 0,
  { sharded = false }: { sharded?: boolean } = {},
): RedisEventRecorder {
  const wire = redisEventWire(keys);
  const history = historyKeys(keys);
  // Each script gets an epoch of its own to set when Redis has none (lost its data): never one seen before.
  const token = randomBytes(6).toString('base64url');
  let scripts = 0;
  return (events, orgId) => {
    const scope = orgId === undefined ? keys.deployment : keys.org(orgId);
    for (const event of events) {
      const prefix = keys.ofChannel(event.channel);
      if (orgOfChannel(event.channel) !== undefined && prefix !== scope) {
        throw new Error(`An event of ${event.channel} cannot be recorded in the slot of ${scope}`);
      }
    }
    const args = [
      String(events.length),
      String(resumeWindowMs),
      history.epoch(scope),
      token + (scripts++).toString(36),
      sharded ? 'SPUBLISH' : 'PUBLISH',
    ];
    for (const event of events) {
      const { channel, message, queue } = wire(event, orgId);
      const org = resumeWindowMs > 0 && !queue ? recordingOrg(event.channel) : undefined;
      args.push(channel, message, queue ?? '');
      if (org === undefined) args.push('', '');
      else args.push(history.stream(event.channel), history.clock(scope));
    }
    return args;
  };
}

/**
 * The slot a bare `EventBus.publish` of `events` runs in: the organisation
 * of its channels (undefined: the deployment's). Events of several
 * organisations cannot be published together.
 */
export function publishScope(events: readonly ChangeEvent[]): string | undefined {
  const orgs = new Set(events.map((event) => orgOfChannel(event.channel)));
  if (orgs.size > 1) throw new Error('Events of several organisations cannot be published in one step');
  const [org] = orgs;
  return org === undefined ? undefined : decodeURIComponent(org);
}

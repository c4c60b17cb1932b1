import { runScript, type RedisClient } from '../redis.js';
import type { KeySpace } from '../lib/keys.js';
import { commandOrgsKey, isCommandChannel } from '../events/commands.js';
import { wakeCommandConsumers } from '../events/commands-redis.js';
import { NO_EVENTS, RECORD_EVENTS, type RedisEventRecorder } from '../events/record-redis.js';
import { createRedisLedger } from './redis-ledger.js';
import { createRedisLimits } from './limits-redis.js';
import { withRetention } from './retention.js';
import {
  assertAppendable,
  indexMoves,
  type ChangeEvent,
  type Collection,
  type Doc,
  type RangeOptions,
  type Retention,
  type Storage,
} from './storage.js';
import { sendWrite } from './write-outcome.js';

/**
 * Compare-and-set: writes ARGV[A+2] only while KEYS[1] still holds ARGV[A+1]
 * (keeping its expiry, or setting it to ARGV[A+3] ms when that is not 0),
 * and moves index entries in the same write: the first ARGV[A+4] index keys
 * after KEYS[1] lose the id at ARGV[A+5...] (one per key), the rest gain the
 * (score, id) pairs that follow; then records the events.
 */
const COMPARE_AND_SET = `${RECORD_EVENTS}
if redis.call('GET', KEYS[1]) ~= ARGV[A + 1] then return 0 end
redis.call('SET', KEYS[1], ARGV[A + 2], 'KEEPTTL')
if tonumber(ARGV[A + 3]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[A + 3]) end
local leave = tonumber(ARGV[A + 4])
for i = 2, leave + 1 do
  redis.call('ZREM', KEYS[i], ARGV[A + 3 + i])
end
local joins = A + 4 + leave
for i = leave + 2, #KEYS do
  local j = 2 * (i - leave - 1)
  redis.call('ZADD', KEYS[i], ARGV[joins + j - 1], ARGV[joins + j])
end
record_events()
return 1`;

/**
 * Creates a document (ARGV[A+1]) expiring in ARGV[#ARGV] ms (0: never),
 * its index entries (a score and an id per index key after KEYS[1], from
 * ARGV[A+2]) and its events together, unless the id is taken.
 */
const INSERT = `${RECORD_EVENTS}
if not redis.call('SET', KEYS[1], ARGV[A + 1], 'NX') then return 0 end
if tonumber(ARGV[#ARGV]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[#ARGV]) end
for i = 2, #KEYS do
  redis.call('ZADD', KEYS[i], ARGV[A + 2 * i - 2], ARGV[A + 2 * i - 1])
end
record_events()
return 1`;

/** Deletes a document still holding ARGV[A+1] (id ARGV[A+2]), its index entries and records its events. */
const REMOVE = `${RECORD_EVENTS}
if redis.call('GET', KEYS[1]) ~= ARGV[A + 1] then return 0 end
redis.call('DEL', KEYS[1])
for i = 2, #KEYS do
  redis.call('ZREM', KEYS[i], ARGV[A + 2])
end
record_events()
return 1`;

/**
 * Storage.append in one step. KEYS: the new record, the sequence counter,
 * the parent, the activity counter, then the record's n index keys and the
 * parent's touched index keys. ARGV from A+1: the record's JSON, its id, the
 * parent's id, the fragment the parent must hold, n, the f sequence fields,
 * the s fields to set on the parent (name, JSON value), the n scores (-1:
 * the sequence), then the record's lifetime in ms (0: kept for good; the
 * parent keeps its own expiry). Returns the sequence, -1 (id taken) or -2 (parent changed).
 * Field values are patched in the parent's JSON text, which JSON.stringify
 * wrote: a key followed by \`":\` cannot occur inside a string there (its
 * quote would be escaped).
 */
const APPEND = `${RECORD_EVENTS}
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
local parent = redis.call('GET', KEYS[3])
if not parent then return -2 end
local s0, e0 = string.find(parent, ARGV[A + 4], 1, true)
if not s0 then return -2 end
local after = string.sub(parent, e0 + 1, e0 + 1)
if after ~= ',' and after ~= '}' then return -2 end
local n, f = tonumber(ARGV[A + 5]), tonumber(ARGV[A + 6])
local p = A + 7 + f
local s = tonumber(ARGV[p])
local seq = redis.call('INCR', KEYS[2])
local function numbered(text)
  for k = 1, f do
    local key = '"' .. ARGV[A + 6 + k] .. '":'
    text = string.gsub(text, key .. '%-1', key .. seq)
  end
  return text
end
for k = 1, s do
  local key = '"' .. ARGV[p + 2 * k - 1] .. '":'
  local a, b = string.find(parent, key, 1, true)
  if not a then return redis.error_reply('ERR append: the parent has no field ' .. key) end
  local stop
  if string.sub(parent, b + 1, b + 1) == '"' then
    stop = string.find(parent, '"', b + 2, true)
  else
    stop = string.find(parent, '[,}]', b + 1) - 1
  end
  parent = string.sub(parent, 1, b) .. numbered(key .. ARGV[p + 2 * k]):sub(#key + 1) .. string.sub(parent, stop + 1)
end
redis.call('SET', KEYS[3], parent, 'KEEPTTL')
redis.call('SET', KEYS[1], numbered(ARGV[A + 1]))
local scores = p + 2 * s
local lifetime = tonumber(ARGV[scores + n + 1])
if lifetime > 0 then redis.call('PEXPIRE', KEYS[1], lifetime) end
for k = 1, n do
  local score = ARGV[scores + k]
  if score == '-1' then score = seq end
  redis.call('ZADD', KEYS[4 + k], score, ARGV[A + 2])
end
local activity = redis.call('INCR', KEYS[4])
for k = 5 + n, #KEYS do
  redis.call('ZADD', KEYS[k], activity, ARGV[A + 3])
end
for i = 6, A, 5 do
  ARGV[i + 1] = numbered(ARGV[i + 1])
end
record_events()
return seq`;

/**
 * Collection.rankedPage: the ids of KEYS[1], each ranked by the higher of its
 * score there and in KEYS[2] (ZMSCORE, in chunks: Lua's unpack is bounded),
 * highest first, ties by id highest first; ARGV[1]: the cursor ('' for
 * none), ARGV[2]: the page size. Returns {0} when the cursor is not in
 * KEYS[1], else 1 followed by the page.
 */
const RANKED_PAGE = `
local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local n = #entries / 2
local ranked = {}
for first = 1, n, 1000 do
  local last = math.min(n, first + 999)
  local ids = {}
  for i = first, last do ids[#ids + 1] = entries[2 * i - 1] end
  local others = redis.call('ZMSCORE', KEYS[2], unpack(ids))
  for k, id in ipairs(ids) do
    local rank = tonumber(entries[2 * (first + k - 1)])
    local other = others[k] and tonumber(others[k])
    if other and other > rank then rank = other end
    ranked[#ranked + 1] = { id, rank }
  end
end
table.sort(ranked, function(a, b)
  if a[2] ~= b[2] then return a[2] > b[2] end
  return a[1] > b[1]
end)
local start = 1
if ARGV[1] ~= '' then
  start = nil
  for i = 1, n do
    if ranked[i][1] == ARGV[1] then start = i + 1 break end
  end
  if not start then return { 0 } end
end
local page = { 1 }
for i = start, math.min(n, start + tonumber(ARGV[2]) - 1) do page[#page + 1] = ranked[i][1] end
return page`;

/** Deletes a claim only while it still holds ARGV[1]. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`;

/** Milliseconds on Redis' clock, so every instance measures deadlines alike. */
const REDIS_NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** Sets a member's deadline ARGV[2] ms from now; returns 1 when the member was not in the set. */
const SCHEDULE = `${REDIS_NOW}
return redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])`;

/** Members due now (at most ARGV[1]), each moved ARGV[2] ms ahead so no other caller gets it meanwhile. */
const TAKE_DUE = `${REDIS_NOW}
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, member in ipairs(due) do
  redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), member)
end
return due`;

/** Extends a claim's TTL to ARGV[2] ms only while it still holds ARGV[1]. */
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`;

/**
 * GCRA without burst, on Redis' clock: the next free slot is max(stored, now);
 * ARGV[2] slots of ARGV[1] ms are reserved from it. Returns ms until the first.
 */
const PACE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local start = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
local after = start + tonumber(ARGV[1]) * tonumber(ARGV[2])
redis.call('SET', KEYS[1], string.format('%.3f', after), 'PX', math.ceil(after - now) + 1000)
return string.format('%.3f', start - now)`;

const MAX_CAS_ATTEMPTS = 50;

/**
 * The shared backend: every instance and worker on one Redis sees the same
 * state. Documents are JSON strings, indexes sorted sets; multi-key writes
 * run as Lua scripts so they apply together, with the events they produce
 * (recorded from the script by RECORD_EVENTS, as `EventBus.publish`
 * records them, so subscribers cannot tell the two apart). Every command that changes state is sent
 * through `sendWrite`, so a failed operation knows whether it wrote.
 */
export function createRedisStorage(redis: RedisClient, keys: KeySpace, record?: RedisEventRecorder): Storage {
  const orgs = new Map<string, Storage>();
  const forOrg = (orgId: string): Storage => {
    let scoped = orgs.get(orgId);
    if (!scoped) {
      // A storage is a few closures: kept per organisation seen, bounded by keeping the last ORG_SCOPES.
      if (orgs.size >= ORG_SCOPES) orgs.delete(orgs.keys().next().value!);
      orgs.set(orgId, (scoped = createScopedStorage(redis, keys, keys.org(orgId), orgId, record, forOrg)));
    }
    return scoped;
  };
  return createScopedStorage(redis, keys, keys.deployment, undefined, record, forOrg);
}

/** Organisation scopes kept made (a cache: a scope made again is the same). */
const ORG_SCOPES = 1_000;

/**
 * The storage of one scope: the deployment's (`orgId` undefined) or one
 * organisation's, whose every key starts with `prefix`. On a cluster, all
 * keys of a scope are in one slot, so its scripts never cross slots.
 */
function createScopedStorage(
  redis: RedisClient,
  keys: KeySpace,
  prefix: string,
  orgId: string | undefined,
  record: RedisEventRecorder | undefined,
  forOrg: (orgId: string) => Storage,
): Storage {
  /** The key names of collections and counters: the collections' own and {@link Storage.append}'s alike. */
  const keyOf = {
    doc: (collection: string, id = '') => `${prefix}doc:${collection}:${id}`,
    index: (collection: string, index = '') => `${prefix}idx:${collection}:${index}`,
    counter: (counter: string) => `${prefix}ctr:${counter}`,
  };
  /**
   * Runs a script. One that queues a command on an organisation's stream
   * first registers the organisation with the stream's consumers (see
   * src/events/commands-redis.ts): registered before, so a command is never
   * on a stream no consumer knows of.
   */
  const run = async (script: string, names: string[], args: (string | number)[], events?: readonly ChangeEvent[]) => {
    const commands =
      orgId === undefined || !events ? [] : [...new Set(events.map((event) => event.channel).filter(isCommandChannel))];
    for (const channel of commands) {
      await sendWrite(() => redis.sadd(commandOrgsKey(keys.deployment, channel), orgId!));
    }
    const result = await sendWrite(() => runScript(redis, script, names, args));
    // A hint only (consumers sweep the organisations' streams anyway): a failure here is not the write's.
    for (const channel of commands) await wakeCommandConsumers(redis, keys, channel, orgId!).catch(() => undefined);
    return result;
  };
  /** The leading arguments of a script that records events (see RECORD_EVENTS). */
  const eventArgs = (events: readonly ChangeEvent[]): string[] => {
    if (events.length === 0) return NO_EVENTS;
    if (!record) throw new Error('This storage was created without an event recorder: it cannot record events');
    return record(events, orgId);
  };

  return {
    kind: 'redis',
    forOrg,
    collection<T extends Doc>(name: string, retention?: Retention) {
      const collection = createRedisCollection<T>(redis, keyOf.doc(name), keyOf.index(name), run, eventArgs, retention);
      return retention ? withRetention(collection) : collection;
    },
    increment(counter) {
      return sendWrite(() => redis.incr(keyOf.counter(counter)));
    },
    async claim(key, value, ttlMs) {
      const previous = (await sendWrite(() =>
        redis.call('SET', `${prefix}claim:${key}`, value, 'PX', ttlMs, 'NX', 'GET'),
      )) as string | null;
      return previous ?? value;
    },
    async peek(key) {
      return (await redis.get(`${prefix}claim:${key}`)) ?? undefined;
    },
    async release(key, value) {
      return (await run(RELEASE, [`${prefix}claim:${key}`], [value])) === 1;
    },
    async schedule(set, member, ttlMs) {
      return (await run(SCHEDULE, [`${prefix}due:${set}`], [member, Math.max(0, Math.round(ttlMs))])) === 1;
    },
    async unschedule(set, member) {
      return (await sendWrite(() => redis.zrem(`${prefix}due:${set}`, member))) === 1;
    },
    async takeDue(set, { limit, retryMs }) {
      return (await run(TAKE_DUE, [`${prefix}due:${set}`], [limit, Math.max(0, Math.round(retryMs))])) as string[];
    },
    async scheduled(set) {
      return redis.zcard(`${prefix}due:${set}`);
    },
    async renew(key, value, ttlMs) {
      return (await run(RENEW, [`${prefix}claim:${key}`], [value, ttlMs])) === 1;
    },
    async pace(key, intervalMs, count) {
      return Number(await run(PACE, [`${prefix}pace:${key}`], [intervalMs, count]));
    },
    async append({ collection, doc, ttlMs = 0, indexes, sequence, parent, touch }, events) {
      assertAppendable(sequence.fields, parent.set);
      const childKeys = indexes.map((entry) => keyOf.index(collection, entry.index));
      const touched = touch.indexes.map((index) => keyOf.index(parent.collection, index));
      const names = [
        keyOf.doc(collection, doc.id),
        keyOf.counter(sequence.counter),
        keyOf.doc(parent.collection, parent.id),
        keyOf.counter(touch.counter),
        ...childKeys,
        ...touched,
      ];
      const set = Object.entries(parent.set);
      const args = [
        ...eventArgs(events),
        JSON.stringify(doc),
        doc.id,
        parent.id,
        `${JSON.stringify(parent.holds.field)}:${JSON.stringify(parent.holds.value)}`,
        indexes.length,
        sequence.fields.length,
        ...sequence.fields,
        set.length,
        ...set.flatMap(([field, value]) => [field, JSON.stringify(value)]),
        ...indexes.map((entry) => entry.score),
        Math.max(0, Math.round(ttlMs)),
      ];
      const result = Number(await run(APPEND, names, args, events));
      if (result === -1) return { status: 'taken' };
      if (result === -2) return { status: 'parent-changed' };
      return { status: 'appended', seq: result };
    },
    ledger(name) {
      return createRedisLedger(redis, `${prefix}ledger:{${name}}`);
    },
    ...createRedisLimits(redis, prefix),
    async healthy() {
      if (redis.status !== 'ready') return false;
      try {
        return (await redis.ping()) === 'PONG';
      } catch {
        return false;
      }
    },
    async close() {},
  };
}

function createRedisCollection<T extends Doc>(
  redis: RedisClient,
  docPrefix: string,
  indexPrefix: string,
  run: (script: string, keys: string[], args: (string | number)[], events?: readonly ChangeEvent[]) => Promise<unknown>,
  eventArgs: (events: readonly ChangeEvent[]) => string[],
  { ttlMs = 0, renewOnWrite = false }: Partial<Retention> = {},
): Collection<T> {
  const renewMs = renewOnWrite ? ttlMs : 0;
  const docKey = (id: string) => docPrefix + id;
  const indexKey = (name: string) => indexPrefix + name;
  const parse = (raw: string | null): T | undefined => (raw === null ? undefined : (JSON.parse(raw) as T));

  const getMany = async (ids: readonly string[]) => {
    if (ids.length === 0) return [];
    const raws = await redis.mget(ids.map(docKey));
    return raws.flatMap((raw) => (raw === null ? [] : [JSON.parse(raw) as T]));
  };
  const ids = async (name: string, { order = 'asc', below, limit }: RangeOptions = {}) => {
    const upper = below === undefined ? '+inf' : `(${below}`;
    const window = limit === undefined ? [] : ['LIMIT', 0, limit];
    return order === 'asc'
      ? redis.zrangebyscore(indexKey(name), '-inf', upper, ...(window as ['LIMIT', number, number]))
      : redis.zrevrangebyscore(indexKey(name), upper, '-inf', ...(window as ['LIMIT', number, number]));
  };

  return {
    async get(id) {
      return parse(await redis.get(docKey(id)));
    },
    getMany,
    async insert(doc, entries = [], events = []) {
      const keys = [docKey(doc.id), ...entries.map((entry) => indexKey(entry.index))];
      const args = [
        ...eventArgs(events),
        JSON.stringify(doc),
        ...entries.flatMap((entry) => [entry.score, entry.id ?? doc.id]),
        ttlMs,
      ];
      return (await run(INSERT, keys, args, events)) === 1;
    },
    async update(id, change, indexes, events) {
      for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
        const raw = await redis.get(docKey(id));
        if (raw === null) return undefined;
        const before = JSON.parse(raw) as T;
        const next = change(JSON.parse(raw) as T);
        if (next === undefined) return { before, after: before, changed: false };
        const serialised = JSON.stringify(next);
        const { leave, join } = indexes ? indexMoves(indexes(before), indexes(next)) : { leave: [], join: [] };
        const keys = [docKey(id), ...[...leave, ...join].map((entry) => indexKey(entry.index))];
        const after = JSON.parse(serialised) as T;
        const produced = events ? events(after, before) : [];
        const recorded = eventArgs(produced);
        const args = [
          ...recorded,
          raw,
          serialised,
          renewMs,
          leave.length,
          ...leave.map((entry) => entry.id ?? id),
          ...join.flatMap((entry) => [entry.score, entry.id ?? id]),
        ];
        if ((await run(COMPARE_AND_SET, keys, args, produced)) === 1) return { before, after, changed: true };
      }
      throw new Error(`Update of ${docKey(id)} kept conflicting after ${MAX_CAS_ATTEMPTS} attempts`);
    },
    async remove(id, names = [], events) {
      const keys = [docKey(id), ...names.map(indexKey)];
      for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
        const raw = await redis.get(docKey(id));
        if (raw === null) return undefined;
        const removed = JSON.parse(raw) as T;
        const produced = events ? events(removed) : [];
        const args = [...eventArgs(produced), raw, id];
        if ((await run(REMOVE, keys, args, produced)) === 1) return removed;
      }
      throw new Error(`Removal of ${docKey(id)} kept conflicting after ${MAX_CAS_ATTEMPTS} attempts`);
    },
    async expire(id, ttlMs) {
      await sendWrite(() => redis.pexpire(docKey(id), ttlMs));
    },
    async index(name, entries) {
      if (entries.length === 0) return;
      await sendWrite(() => redis.zadd(indexKey(name), ...entries.flatMap(({ id, score }) => [score, id])));
    },
    async unindex(name, members) {
      if (members.length === 0) return;
      await sendWrite(() => redis.zrem(indexKey(name), ...members));
    },
    ids,
    async list(name, options) {
      return getMany(await ids(name, options));
    },
    async score(name, id) {
      const score = await redis.zscore(indexKey(name), id);
      return score === null ? undefined : Number(score);
    },
    async rankedPage(name, by, { limit, before }) {
      const [found, ...page] = (await runScript(
        redis,
        RANKED_PAGE,
        [indexKey(name), indexKey(by)],
        [before ?? '', limit],
      )) as [number, ...string[]];
      return found === 1 ? page : undefined;
    },
    count(name, { above, below } = {}) {
      if (above === undefined && below === undefined) return redis.zcard(indexKey(name));
      return redis.zcount(
        indexKey(name),
        above === undefined ? '-inf' : `(${above}`,
        below === undefined ? '+inf' : `(${below}`,
      );
    },
  };
}

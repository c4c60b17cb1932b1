import { runScript, type RedisClient } from '../redis.js';
import { sendWrite } from './write-outcome.js';
import { assertLedgerMove, type Ledger, type LedgerClaim, type LedgerCounts } from './ledger.js';

/*
 * Layout, per ledger (one hash slot, via the {name} tag):
 *   …:states  a string, one byte per item ('\0' or '.' = pending): 100 000 items take 100 kB
 *   …:owners  hash item -> owner, for claimed items only
 *   …:open    set of items below the cursor that a claim must look at (handed back or claimed)
 *   …:meta    hash: `next` (the cursor) and `#<state>` (count per state)
 */

const COMMON = `
local function pending(s) return s == '' or s == '\\0' or s == '.' end
local function state(i)
  local s = redis.call('GETRANGE', KEYS[1], i, i)
  if pending(s) then return '.' end
  return s
end`;

/** Claims up to ARGV[2] items for ARGV[1]: handed-back and orphaned items first, then from the cursor below ARGV[3]. */
const CLAIM = `${COMMON}
local owner, limit, size = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {}
local function take(i, orphan)
  redis.call('SETRANGE', KEYS[1], i, '*')
  redis.call('HSET', KEYS[2], tostring(i), owner)
  redis.call('SADD', KEYS[3], tostring(i))
  if orphan == 0 then redis.call('HINCRBY', KEYS[4], '#*', 1) end
  out[#out + 1] = i
  out[#out + 1] = orphan
end
local open = redis.call('SMEMBERS', KEYS[3])
table.sort(open, function(a, b) return tonumber(a) < tonumber(b) end)
for _, member in ipairs(open) do
  if #out >= 2 * limit then break end
  local i = tonumber(member)
  local s = state(i)
  if s == '.' then take(i, 0)
  elseif s == '*' then
    if redis.call('HGET', KEYS[2], member) ~= owner then take(i, 1) end
  else
    redis.call('SREM', KEYS[3], member)
  end
end
local nextItem = tonumber(redis.call('HGET', KEYS[4], 'next') or '0')
while #out < 2 * limit and nextItem < size do
  if state(nextItem) == '.' then take(nextItem, 0) end
  nextItem = nextItem + 1
end
redis.call('HSET', KEYS[4], 'next', tostring(nextItem))
return out`;

/** Applies moves (ARGV[2..] as item, from-states, to) for owner ARGV[1] ('' = anyone); returns previous states, applied flags and the counts. */
const MOVE = `${COMMON}
local owner = ARGV[1]
local previous, applied = {}, {}
for k = 2, #ARGV, 3 do
  local member, from, to = ARGV[k], ARGV[k + 1], ARGV[k + 2]
  local i = tonumber(member)
  local s = state(i)
  local ok = string.find(from, s, 1, true) ~= nil
  if ok and s == '*' and owner ~= '' and redis.call('HGET', KEYS[2], member) ~= owner then ok = false end
  if ok and s ~= to then
    redis.call('SETRANGE', KEYS[1], i, to)
    if s ~= '.' then redis.call('HINCRBY', KEYS[4], '#' .. s, -1) end
    if to ~= '.' then redis.call('HINCRBY', KEYS[4], '#' .. to, 1) end
    if s == '*' then redis.call('HDEL', KEYS[2], member) end
    if to == '.' then redis.call('SADD', KEYS[3], member) else redis.call('SREM', KEYS[3], member) end
  end
  previous[#previous + 1] = s
  applied[#applied + 1] = ok and 1 or 0
end
return { previous, applied, redis.call('HGETALL', KEYS[4]) }`;

/** The shared {@link Ledger}: Lua scripts over four keys of one hash slot. */
export function createRedisLedger(redis: RedisClient, base: string): Ledger {
  const keys = [`${base}:states`, `${base}:owners`, `${base}:open`, `${base}:meta`];
  const run = (script: string, args: (string | number)[]) => runScript(redis, script, keys, args);
  const counts = async () => parseCounts(Object.entries(await redis.hgetall(keys[3]!)).flat());

  return {
    async claim(owner, limit, size) {
      const flat = (await run(CLAIM, [owner, limit, size])) as number[];
      const out: LedgerClaim[] = [];
      for (let i = 0; i < flat.length; i += 2) out.push({ item: Number(flat[i]), orphan: flat[i + 1] === 1 });
      return out;
    },

    async move(moves, owner) {
      moves.forEach(assertLedgerMove);
      if (moves.length === 0) return { previous: [], applied: [], counts: await counts() };
      const args = moves.flatMap(({ item, from, to }) => [item, from.join(''), to]);
      const [previous, applied, meta] = (await run(MOVE, [owner ?? '', ...args])) as [string[], number[], string[]];
      return { previous, applied: applied.map((flag) => flag === 1), counts: parseCounts(meta) };
    },

    counts,

    async retire(ttlMs) {
      await sendWrite(() =>
        redis.multi().pexpire(keys[0]!, ttlMs).pexpire(keys[1]!, ttlMs).pexpire(keys[2]!, ttlMs).exec(),
      );
    },
  };
}

function parseCounts(flat: string[]): LedgerCounts {
  const counts: LedgerCounts = {};
  for (let i = 0; i < flat.length; i += 2) {
    const field = flat[i]!;
    const value = Number(flat[i + 1]);
    if (field.startsWith('#') && value !== 0) counts[field.slice(1)] = value;
  }
  return counts;
}

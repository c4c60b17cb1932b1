/**
 * One component of a storage index or channel name, encoded so that it can
 * hold no `:`. Org and user ids come from tokens and may contain anything;
 * encoded, `org:${a}:user:${b}` can never be read two ways, so one tenant's
 * name can never spell another's.
 */
export const keyPart = (value: string): string => encodeURIComponent(value);

/**
 * The prefix every Redis key and channel name of a deployment starts with.
 * On one Redis it is `REDIS_PREFIX` itself (the names existing data has).
 * On a Redis Cluster it is `REDIS_PREFIX` wrapped as a hash tag,
 * `{REDIS_PREFIX}`: every key and sharded channel of the deployment then
 * hashes to one slot, so each script that writes a change, records its
 * events, appends its commands and SPUBLISHes them stays in one slot, as
 * Redis Cluster requires (docs/redis-keys.md says why and what it costs).
 * Tags written further in (a ledger's `{name}`) are ignored after it.
 */
export function deploymentPrefix(prefix: string, cluster: boolean): string {
  return cluster ? `{${prefix.replaceAll('{', '').replaceAll('}', '')}}` : prefix;
}

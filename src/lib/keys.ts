/**
 * One component of a storage index or channel name, encoded so that it can
 * hold no `:`. Org and user ids come from tokens and may contain anything;
 * encoded, `org:${a}:user:${b}` can never be read two ways, so one tenant's
 * name can never spell another's. Nor can it hold `{` or `}`, so an org id
 * can never change the hash tag of the keys it is part of.
 */
export const keyPart = (value: string): string => encodeURIComponent(value);

/**
 * Where a deployment's Redis keys and channel names start, per kind of
 * data (docs/redis-keys.md has the layout). An organisation's keys and
 * sharded channels carry its own hash tag, so on a Redis Cluster
 * different organisations hash to different slots (the load spreads over
 * the shards) while everything one write touches (the record, its index
 * moves, its history entry, the organisation's clock, its SPUBLISH and a
 * command it queues) stays in one slot, as a script requires; so does its
 * users' per-connection work (connection slots, rate-limit buckets,
 * presence, typing). What spans organisations (runnable campaigns, live
 * instances, revocations, the registry of command streams) is deployment-level, with a tag of its
 * own on a cluster, and never written by an organisation's script.
 */
export interface KeySpace {
  /**
   * The prefix of deployment-level keys and channels: `REDIS_PREFIX` on one
   * Redis (`rt:`, the names such data has always had), `{rt:}` on a
   * cluster (one slot for all of them).
   */
  readonly deployment: string;
  /** The prefix of one organisation's keys and channels (the org as a token holds it): `rt:{o:<org>}`. */
  org(orgId: string): string;
  /** The prefix of a channel's name (as `topics` makes it): its organisation's for an `org:` channel, else the deployment's. */
  ofChannel(channel: string): string;
}

/**
 * The key space of a deployment: `prefix` is REDIS_PREFIX, `cluster`
 * whether it runs on a Redis Cluster. Organisation prefixes are the same on
 * one Redis and on a cluster (`rt:{o:acme}`: one code path; the tag does
 * nothing on one Redis).
 */
export function keySpace(prefix: string, cluster: boolean): KeySpace {
  const bare = prefix.replaceAll('{', '').replaceAll('}', '');
  const deployment = cluster ? `{${bare}}` : prefix;
  const ofEncoded = (org: string) => `${bare}{o:${org}}`;
  return {
    deployment,
    org: (orgId) => ofEncoded(keyPart(orgId)),
    ofChannel(channel) {
      const org = orgOfChannel(channel);
      return org === undefined ? deployment : ofEncoded(org);
    },
  };
}

/** The organisation of an `org:<org>:…` channel name, as the name encodes it; undefined for another channel. */
export function orgOfChannel(channel: string): string | undefined {
  if (!channel.startsWith('org:')) return undefined;
  const end = channel.indexOf(':', 4);
  return end < 0 ? undefined : channel.slice(4, end);
}

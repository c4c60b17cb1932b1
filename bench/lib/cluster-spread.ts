import { Redis } from 'ioredis';

/** What one master of a Redis Cluster did: scripts run, sharded messages published, keys held. */
export interface ShardFigures {
  node: string;
  evals: number;
  spublishes: number;
  keys: number;
}

/**
 * Per-master counters of the cluster behind `seeds` (`INFO commandstats`,
 * `DBSIZE`): how the events of a run spread over the shards. Take it before
 * and after, and subtract with {@link spreadBetween}.
 */
export async function shardFigures(seeds: readonly string[]): Promise<ShardFigures[]> {
  const [host, port] = seeds[0]!.split(':');
  const seed = new Redis(Number(port), host!);
  try {
    const nodes = ((await seed.cluster('NODES')) as string)
      .trim()
      .split('\n')
      .map((line) => line.split(' '))
      .filter((fields) => fields[2]!.includes('master'))
      .map((fields) => fields[1]!.split('@')[0]!);
    return await Promise.all(
      nodes.map(async (node) => {
        const [h, p] = node.split(':');
        const redis = new Redis(Number(p), h!);
        try {
          const stats = await redis.info('commandstats');
          const calls = (command: string) =>
            Number(new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(stats)?.[1] ?? 0);
          return {
            node,
            evals: calls('eval') + calls('evalsha'),
            spublishes: calls('spublish'),
            keys: await redis.dbsize(),
          };
        } finally {
          redis.disconnect();
        }
      }),
    );
  } finally {
    seed.disconnect();
  }
}

/** The counters' growth from `before` to `after`, per master (keys as they are after). */
export function spreadBetween(before: ShardFigures[], after: ShardFigures[]): ShardFigures[] {
  return after.map((shard) => {
    const earlier = before.find((b) => b.node === shard.node);
    return {
      node: shard.node,
      evals: shard.evals - (earlier?.evals ?? 0),
      spublishes: shard.spublishes - (earlier?.spublishes ?? 0),
      keys: shard.keys,
    };
  });
}

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { startRedisServer } from './redis-server.js';

const run = promisify(execFile);

/** One node of a test cluster. */
export type ClusterNode = Awaited<ReturnType<typeof startRedisServer>>;

/**
 * A throwaway Redis Cluster on loopback: `masters` redis-server processes
 * with `--cluster-enabled yes` (plus `replicas` per master), joined with
 * `redis-cli --cluster create`, resolved once every node reports
 * `cluster_state:ok`. `stop()` kills them all.
 */
export async function startRedisCluster(
  bin: string,
  { masters = 3, replicas = 0 }: { masters?: number; replicas?: number } = {},
) {
  const count = masters * (1 + replicas);
  const nodes: ClusterNode[] = await Promise.all(
    Array.from({ length: count }, () =>
      startRedisServer(bin, undefined, [
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        'nodes.conf',
        // A master that stops answering is failed over within a couple of seconds.
        '--cluster-node-timeout',
        '1500',
        // Replicas sync at once (Redis 7 waits 5 s by default); one never synced could not take over.
        '--repl-diskless-sync-delay',
        '0',
      ]),
    ),
  );
  const stop = () => Promise.all(nodes.map((node) => node.stop()));
  try {
    const seeds = nodes.map((node) => `127.0.0.1:${node.port}`);
    const cli = bin.replace(/redis-server$/, 'redis-cli');
    await run(cli, ['--cluster', 'create', ...seeds, '--cluster-replicas', String(replicas), '--cluster-yes']);
    // Every node sees the whole cluster, and every replica holds its master's data (it could not take over otherwise).
    await waitFor(async () => {
      const states = await Promise.all(nodes.map((node) => clusterState(node.port)));
      return (
        states.every((state) => state.ok) && states.filter((state) => state.syncedReplica).length === masters * replicas
      );
    });
    return { nodes, seeds, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Whether the node at `port` sees the cluster as whole, and whether it is a replica in sync with its master. */
async function clusterState(port: number): Promise<{ ok: boolean; syncedReplica: boolean }> {
  const redis = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0 });
  try {
    await redis.connect();
    const info = await redis.cluster('INFO');
    const replication = await redis.info('replication');
    return {
      ok: info.includes('cluster_state:ok'),
      syncedReplica: /^role:slave/m.test(replication) && /^master_link_status:up/m.test(replication),
    };
  } catch {
    return { ok: false, syncedReplica: false };
  } finally {
    redis.disconnect();
  }
}

/** Polls `check` every 100 ms for up to `timeoutMs`. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { keySpace } from '../../src/lib/keys.js';
import { conversationEvents, createConversation, people, send } from '../conversations/support.js';
import { dispose, startCluster } from '../support/harness.js';
import { startRedisCluster, waitFor } from '../support/redis-cluster.js';

/** A connection to one node (not a cluster client); one to the killed master just fails. */
function node(port: number): Redis {
  const redis = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 0, lazyConnect: true, retryStrategy: () => null });
  redis.on('error', () => undefined);
  dispose(() => redis.disconnect());
  return redis;
}

/** The cluster's view from `port`: each node's port, role, and (for a replica) its master's id. */
async function nodesSeenFrom(port: number) {
  const lines = ((await node(port).cluster('NODES')) as string).trim().split('\n');
  return lines.map((line) => {
    const [id, address, flags, master] = line.split(' ');
    return { id: id!, port: Number(address!.split('@')[0]!.split(':')[1]), flags: flags!, master: master! };
  });
}

/** Retries a write while the cluster has no master for its slot (it fails fast meanwhile). */
async function eventually<T>(write: () => Promise<T>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await write();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

describe('a Redis Cluster whose master fails over under live subscriptions', () => {
  it('keeps every subscription on both instances live when the organisation slot’s master is killed and its replica takes over', async () => {
    const bin = inject('redisServerBin');
    if (!bin) return expect.fail('needs redis-server to start a cluster with replicas');
    const cluster = await startRedisCluster(bin, { masters: 3, replicas: 1 });
    dispose(() => cluster.stop());
    const [a, b] = await startCluster(2, { REDIS_CLUSTER_NODES: cluster.seeds.join(',') }, 'cluster');
    const t = await people();
    const conversation = await createConversation(a!, t.alice, ['bob']);
    const onA = await conversationEvents(a!, t.alice, conversation.id);
    const onB = await conversationEvents(b!, t.bob, conversation.id);
    await send(a!, t.alice, conversation.id, 'before the failover');
    await onB.waitForEvents(1);

    // The master serving the organisation's slot, and its replica.
    const first = cluster.nodes[0]!.port;
    const slot = (await node(first).cluster('KEYSLOT', keySpace(a!.config.redisPrefix, true).org('org-a'))) as number;
    const name = `org:org-a:conversation:${conversation.id}`;
    const channel = keySpace(a!.config.redisPrefix, true).ofChannel(name) + name;
    const shardListeners = async (port: number) =>
      ((await node(port).call('PUBSUB', 'SHARDNUMSUB', channel)) as [string, number])[1];
    const counts = await Promise.all(cluster.nodes.map((n) => node(n.port).cluster('COUNTKEYSINSLOT', slot)));
    const masters = (await nodesSeenFrom(first)).filter((n) => n.flags.includes('master'));
    const owner = masters.find((m) => counts[cluster.nodes.findIndex((n) => n.port === m.port)]! > 0)!;
    const replica = (await nodesSeenFrom(first)).find((n) => n.master === owner.id)!;
    expect(await shardListeners(owner.port)).toBe(2);

    // Replication is asynchronous: make sure the replica has every write so far (a write of our own in
    // the slot, then WAIT), or the failover itself may lose the conversation just created.
    const ownerNode = node(owner.port);
    await ownerNode.set(`${keySpace(a!.config.redisPrefix, true).org('org-a')}failover-probe`, '1');
    expect(await ownerNode.call('WAIT', '1', '10000')).toBe(1);
    await cluster.nodes.find((n) => n.port === owner.port)!.stop();
    await waitFor(
      async () =>
        (await nodesSeenFrom(replica.port)).some((n) => n.port === replica.port && n.flags.includes('master')),
      20_000,
    );

    const bodies = ['before the failover'];
    for (let i = 1; i <= 4; i++) {
      const body = `after the failover ${i}`;
      bodies.push(body);
      await eventually(() => send(i % 2 ? b! : a!, i % 2 ? t.bob : t.alice, conversation.id, body));
    }
    for (const subscription of [onA, onB]) {
      await subscription.waitForEvents(bodies.length, 20_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(subscription.events.map((event) => event.message.body)).toEqual(bodies);
      expect(subscription.isCompleted()).toBe(false);
    }
    // Both instances listen on the promoted replica now.
    await waitFor(async () => (await shardListeners(replica.port)) === 2, 10_000);
  }, 90_000);
});

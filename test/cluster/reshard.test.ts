import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { keySpace } from '../../src/lib/keys.js';
import { conversationEvents, createConversation, people, send } from '../conversations/support.js';
import { dispose, startCluster } from '../support/harness.js';

/** A connection to one node of the run's cluster (not a cluster client: slot commands go to that node). */
function node(seed: string): Redis {
  const [host, port] = seed.split(':');
  const redis = new Redis(Number(port), host!);
  dispose(() => redis.quit());
  return redis;
}

/** Node ids by `host:port`, and the masters. */
async function topology(redis: Redis) {
  const lines = ((await redis.cluster('NODES')) as string).trim().split('\n');
  return lines.map((line) => {
    const [id, address, flags] = line.split(' ');
    return { id: id!, seed: address!.split('@')[0]!, master: flags!.includes('master') };
  });
}

/**
 * Moves `slot` from its owner to another master the way `redis-cli --cluster
 * reshard` does: IMPORTING on the target, MIGRATING on the source, MIGRATE
 * of every key in it, then the new owner announced to every master.
 */
async function moveSlot(seeds: readonly string[], slot: number) {
  const nodes = await topology(node(seeds[0]!));
  const masters = nodes.filter((n) => n.master);
  const owners = await Promise.all(
    masters.map(async (n) => ((await node(n.seed).cluster('COUNTKEYSINSLOT', slot)) as number) > 0),
  );
  const source = masters[owners.indexOf(true)]!;
  const target = masters.find((n) => n !== source)!;
  const from = node(source.seed);
  const to = node(target.seed);
  await to.cluster('SETSLOT', slot, 'IMPORTING', source.id);
  await from.cluster('SETSLOT', slot, 'MIGRATING', target.id);
  const [host, port] = target.seed.split(':');
  for (;;) {
    const keys = (await from.cluster('GETKEYSINSLOT', slot, 100)) as string[];
    if (keys.length === 0) break;
    await from.call('MIGRATE', host!, port!, '', 0, 5000, 'KEYS', ...keys);
  }
  for (const master of [to, from, ...masters.filter((n) => n !== source && n !== target).map((n) => node(n.seed))]) {
    await master.cluster('SETSLOT', slot, 'NODE', target.id);
  }
  return { source, target };
}

describe('a Redis Cluster whose slots move under live subscriptions', () => {
  it('keeps every subscription on both instances live through a reshard of the organisation’s slot, losing no event', async () => {
    const seeds = inject('redisClusterNodes');
    expect(seeds, 'the global setup starts a Redis Cluster').toBeTruthy();
    const [a, b] = await startCluster(2, {}, 'cluster');
    const t = await people();
    const conversation = await createConversation(a!, t.alice, ['bob']);
    const onA = await conversationEvents(a!, t.alice, conversation.id);
    const onB = await conversationEvents(b!, t.bob, conversation.id);
    const bodies: string[] = ['before the move'];
    await send(a!, t.alice, conversation.id, bodies[0]!);
    await onB.waitForEvents(1);

    // Every key and channel of the organisation is in the slot of its hash tag.
    const slot = (await node(seeds![0]!).cluster(
      'KEYSLOT',
      keySpace(a!.config.redisPrefix, true).org('org-a'),
    )) as number;
    const { source, target } = await moveSlot(seeds!, slot);
    expect((await node(target.seed).cluster('COUNTKEYSINSLOT', slot)) as number).toBeGreaterThan(0);

    // Sent right after the move, while ioredis may still listen where the slot was: caught up from the history.
    for (let i = 1; i <= 6; i++) {
      const body = `after the move ${i}`;
      bodies.push(body);
      await send(i % 2 ? b! : a!, i % 2 ? t.bob : t.alice, conversation.id, body);
    }

    const expected = bodies.map((body) =>
      expect.objectContaining({ __typename: 'MessageAdded', message: expect.objectContaining({ body }) }),
    );
    for (const subscription of [onA, onB]) {
      const events = await subscription.waitForEvents(bodies.length, 20_000);
      expect(events).toEqual(expected);
      expect(subscription.isCompleted()).toBe(false);
    }
    // Still live after ioredis settled on the new owner: the next event arrives too, once.
    await send(a!, t.alice, conversation.id, 'settled');
    for (const subscription of [onA, onB]) {
      await subscription.waitForEvents(bodies.length + 1, 10_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(subscription.events.map((event) => event.message.body)).toEqual([...bodies, 'settled']);
    }
    // Both instances now hear the conversation's sharded channel on the slot's new owner, none on the old one.
    const name = `org:org-a:conversation:${conversation.id}`;
    const channel = keySpace(a!.config.redisPrefix, true).ofChannel(name) + name;
    const listeners = async (seed: string) => (await node(seed).call('PUBSUB', 'SHARDNUMSUB', channel)) as unknown[];
    expect(await listeners(target.seed)).toEqual([channel, 2]);
    expect(await listeners(source.seed)).toEqual([channel, 0]);
  }, 60_000);
});

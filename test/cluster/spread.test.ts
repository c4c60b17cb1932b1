import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { createRedisEventRecorder } from '../../src/events/record-redis.js';
import { topics } from '../../src/events/topics.js';
import { keySpace } from '../../src/lib/keys.js';
import { createRedisStorage } from '../../src/storage/index.js';
import { TYPING, conversationEvents, createConversation, send } from '../conversations/support.js';
import {
  dispose,
  ok,
  startCluster,
  tokenFor,
  uniquePrefix,
  user,
  wsClient,
  wsOperation,
  type TestServer,
} from '../support/harness.js';

/** A connection to one node of the run's cluster (not a cluster client: SCAN and KEYSLOT answer for that node). */
function node(seed: string): Redis {
  const [host, port] = seed.split(':');
  const redis = new Redis(Number(port), host!);
  dispose(() => redis.quit());
  return redis;
}

/** The masters' `host:port`s, as the cluster sees them. */
async function masters(redis: Redis): Promise<string[]> {
  const lines = ((await redis.cluster('NODES')) as string).trim().split('\n');
  return lines
    .map((line) => line.split(' '))
    .filter(([, , flags]) => flags!.includes('master') && !flags!.includes('fail'))
    .map(([, address]) => address!.split('@')[0]!);
}

/** Every key of one node that matches `pattern`. */
async function keysOn(redis: Redis, pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found;
}

const ORGS = ['org-north', 'org-south', 'org-east', 'org-west', 'org-up', 'org-down'];

/** Two server instances on the run's cluster, its key space, a connection to a node and the masters' addresses. */
async function twoInstancesOnTheCluster() {
  const seeds = inject('redisClusterNodes');
  expect(seeds, 'the global setup starts a Redis Cluster').toBeTruthy();
  const [a, b] = (await startCluster(2, {}, 'cluster')) as [TestServer, TestServer];
  const probe = node(seeds![0]!);
  return { a, b, keys: keySpace(a.config.redisPrefix, true), probe, masterSeeds: await masters(probe) };
}

describe('one deployment on a Redis Cluster', () => {
  it('spreads several organisations over the shards, each organisation’s writes and events in one slot', async () => {
    const { a, b, keys, probe, masterSeeds } = await twoInstancesOnTheCluster();
    expect(masterSeeds).toHaveLength(3);

    // A conversation per organisation: written on one instance, heard on the other.
    const conversations = new Map<string, string>();
    for (const org of ORGS) {
      const alice = await tokenFor(user('alice', ['agent'], org));
      const bob = await tokenFor(user('bob', ['agent'], org));
      const { id } = await createConversation(a, alice, ['bob']);
      const onB = await conversationEvents(b, bob, id);
      await send(a, alice, id, `hello from ${org}`);
      const [event] = await onB.waitForEvents(1);
      expect(event).toMatchObject({ __typename: 'MessageAdded', message: { body: `hello from ${org}` } });
      conversations.set(org, id);
    }

    // Where the organisations' keys are: per master, and per organisation.
    const bare = a.config.redisPrefix.replaceAll('{', '').replaceAll('}', '');
    const byMaster = new Map<string, string[]>();
    for (const seed of masterSeeds) byMaster.set(seed, await keysOn(node(seed), `${bare}{o:*`));
    const holding = [...byMaster].filter(([, found]) => found.length > 0).map(([seed]) => seed);
    const slotOf = async (name: string) => (await probe.cluster('KEYSLOT', name)) as number;
    const orgSlots = new Map(await Promise.all(ORGS.map(async (org) => [org, await slotOf(keys.org(org))] as const)));
    // The organisations' own slots differ (six names, 16,384 slots), and their keys are on more than one master.
    expect(new Set(orgSlots.values()).size).toBe(ORGS.length);
    expect(holding.length).toBeGreaterThan(1);

    for (const org of ORGS) {
      const prefix = keys.org(org);
      const slot = orgSlots.get(org)!;
      const owners = [...byMaster].filter(([, found]) => found.some((key) => key.startsWith(prefix)));
      // All of one organisation's keys on one master, in one slot.
      expect(owners, org).toHaveLength(1);
      const own = owners[0]![1].filter((key) => key.startsWith(prefix));
      for (const key of own) expect(await slotOf(key), key).toBe(slot);
      // What the send wrote together: the message, its indexes, the counters, the history entry, the clock and epoch.
      const conversation = conversations.get(org)!;
      const channel = `org:${org}:conversation:${conversation}`;
      expect(own).toEqual(
        expect.arrayContaining([
          `${prefix}doc:conversations:${conversation}`,
          `${prefix}ctr:conversation-seq:${conversation}`,
          `${prefix}history:${channel}`,
          `${prefix}history-clock`,
          `${prefix}history-epoch`,
        ]),
      );
      // The channel it was published on is in that slot too, and has its subscriber on that master.
      expect(await slotOf(keys.ofChannel(channel) + channel)).toBe(slot);
      const [, listeners] = (await node(owners[0]![0]).call(
        'PUBSUB',
        'SHARDNUMSUB',
        keys.ofChannel(channel) + channel,
      )) as [string, number];
      expect(listeners).toBe(1);
    }
  });

  it('puts each user’s connection slots, rate-limit bucket, presence and typing in their organisation’s slot, not the deployment’s', async () => {
    const { a, b, keys, probe, masterSeeds } = await twoInstancesOnTheCluster();

    // A user per organisation holds a WebSocket (on either instance) and runs an operation over it.
    for (const [i, org] of ORGS.entries()) {
      // Not lazy: the socket (and its slot) stays open once the operation is done.
      const client = wsClient(i % 2 === 0 ? a : b, await tokenFor(user('alice', ['agent'], org)), { lazy: false });
      const result = await wsOperation(client, 'query { presence(userIds: ["alice"]) { userId online } }');
      expect(result.data, org).toEqual({ presence: [{ userId: 'alice', online: true }] });
      // And starts typing in a conversation.
      const alice = await tokenFor(user('alice', ['agent'], org));
      const { id } = await createConversation(a, alice, ['bob']);
      expect((await ok(b, TYPING, { id, isTyping: true }, alice)).setTyping).toBe(true);
    }

    const bare = a.config.redisPrefix.replaceAll('{', '').replaceAll('}', '');
    const all = new Map<string, string>();
    for (const seed of masterSeeds) {
      for (const key of await keysOn(node(seed), `*${bare}*`)) all.set(key, seed);
    }
    const slotOf = async (name: string) => (await probe.cluster('KEYSLOT', name)) as number;
    for (const org of ORGS) {
      const prefix = keys.org(org);
      const slot = await slotOf(prefix);
      const own = [
        `${prefix}slots:conn:${org}:alice`,
        `${prefix}bucket:ops:${org}:alice`,
        `${prefix}doc:presence:${org}/alice`,
        `${prefix}due:typing`,
      ];
      for (const key of own) {
        expect(all.has(key), key).toBe(true);
        expect(await slotOf(key), key).toBe(slot);
      }
    }
    // Where the organisations' slots are: on more than one master, so this work spreads.
    const orgMasters = new Set(ORGS.map((org) => all.get(`${keys.org(org)}slots:conn:${org}:alice`)));
    expect(orgMasters.size).toBeGreaterThan(1);

    // The deployment's slot keeps only what spans organisations: per instance, which organisations it counted.
    const deployment = [...all.keys()].filter((key) => key.startsWith(keys.deployment));
    expect(deployment.filter((key) => /slots:|bucket:|presence:|due:typing/.test(key))).toEqual([]);
    const counted = deployment.filter((key) => key.startsWith(`${keys.deployment}idx:presence-orgs:`));
    expect(counted).toHaveLength(2);
    const orgsCounted = (await Promise.all(counted.map((key) => node(all.get(key)!).zrange(key, 0, -1)))).flat();
    expect(orgsCounted.sort()).toEqual([...ORGS].sort());
    // And the organisations with typists, which the sweepers walk; once every typist lapsed, none.
    const typingOrgs = `${keys.deployment}idx:typing-orgs:active`;
    expect((await node(all.get(typingOrgs)!).zrange(typingOrgs, 0, -1)).sort()).toEqual([...ORGS].sort());
    await expect.poll(() => node(all.get(typingOrgs)!).exists(typingOrgs), { timeout: 10_000, interval: 250 }).toBe(0);
    for (const org of ORGS) {
      const key = `${keys.org(org)}due:typing`;
      expect(await node(all.get(key)!).exists(key), key).toBe(0);
    }
  });

  it('refuses a write that would record an event in another organisation’s slot, and writes nothing', async () => {
    const redis = new Redis(inject('redisUrl'));
    dispose(() => redis.quit());
    const keys = keySpace(uniquePrefix(), false);
    const storage = createRedisStorage(redis, keys, createRedisEventRecorder(keys, 60_000));
    const tasks = storage.forOrg('org-a').collection<{ id: string }>('tasks');
    const foreign = { channel: topics.tasks('org-b'), payload: {} };
    await expect(tasks.insert({ id: 't1' }, [], [foreign])).rejects.toThrow(/cannot be recorded in the slot/);
    // Nor through the deployment's storage, whose slot is no organisation's.
    await expect(storage.collection<{ id: string }>('tasks').insert({ id: 't1' }, [], [foreign])).rejects.toThrow(
      /cannot be recorded in the slot/,
    );
    expect(await redis.keys(`${keys.deployment}*`)).toEqual([]);
    expect(await tasks.get('t1')).toBeUndefined();
  });
});

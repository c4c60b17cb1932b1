import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { commandStreamKey } from '../../src/events/commands.js';
import { keySpace } from '../../src/lib/keys.js';
import { subscribe } from '../../src/events/subscribe.js';
import { topics } from '../../src/events/topics.js';
import { CONVERSATION_EVENTS, INBOX_EVENTS, PRESENCE_EVENTS, openTab, people } from '../conversations/support.js';
import { EVENTS as CAMPAIGN_EVENTS, startWorkerProcess } from '../campaigns/support.js';
import { EVENTS as NOTIFICATION_EVENTS } from '../notifications/operations.js';
import {
  dispose,
  health,
  ok,
  settle,
  startCluster,
  subscribeWs,
  wsClient,
  type Subscription,
  type TestServer,
} from '../support/harness.js';
import { SESSION_EVENTS } from './fixtures.js';

/*
 * Every event arriving from Redis is untrusted: a publisher of another
 * version, a bug elsewhere, anyone who can reach Redis. These tests publish
 * junk straight onto the real channels with a raw Redis client, as such a
 * publisher would, on a cluster of two instances with real graphql-ws
 * clients on both: nothing may crash, no subscriber may see the junk, every
 * subscriber still gets the valid events, and /health counts the drops.
 */

const redisUrl = inject('redisUrl');
const NOW = new Date().toISOString();

/** The Redis name of a channel (as `topics` names it) on one Redis with key prefix `prefix`. */
function redisChannel(prefix: string, channel: string): string {
  return keySpace(prefix, false).ofChannel(channel) + channel;
}

/** A Redis connection of its own, as any other publisher has. */
function rawPublisher(): Redis {
  const redis = new Redis(redisUrl);
  dispose(() => redis.quit());
  return redis;
}

/** Publishes each message as it is (strings and bytes unchanged, anything else as JSON). */
async function poison(redis: Redis, channel: string, messages: readonly unknown[]) {
  for (const message of messages) {
    await redis.publish(
      channel,
      typeof message === 'string' || Buffer.isBuffer(message) ? message : JSON.stringify(message),
    );
  }
}

/**
 * Appends each message to a command queue's stream as a worker reads it
 * (field `message`; strings and bytes unchanged, anything else as JSON),
 * and entries a worker does not expect at all.
 */
async function poisonQueue(redis: Redis, stream: string, messages: readonly unknown[]) {
  for (const message of messages) {
    const text = typeof message === 'string' || Buffer.isBuffer(message) ? message : JSON.stringify(message);
    await redis.xadd(stream, '*', 'message', text);
  }
  await redis.xadd(stream, '*', 'other', 'field');
  await redis.xadd(stream, '*', 'message', '{"action":"connect"}', 'message', 'twice');
}

/** Text that is not JSON, and JSON that is not an object: wrong on any channel. */
const NOT_EVENTS: readonly unknown[] = [
  'not json {',
  Buffer.from([0xff, 0xfe, 0x00, 0x9c, 0x7b]),
  '',
  'null',
  '42',
  'true',
  '"MessageAdded"',
  '[]',
  [{ __typename: 'MessageAdded' }],
];

interface EventCounts {
  malformedDropped: number;
  listenerErrors: number;
}

/** `/health` of `server`, with the bus's counts. */
async function healthOf(server: TestServer) {
  const { status, body } = await health(server);
  return { status, body: body as typeof body & { events?: EventCounts } };
}

/** Waits until every server is healthy and counts exactly `dropped` malformed events; returns their counts. */
async function expectDropsCounted(servers: TestServer[], dropped: number): Promise<EventCounts[]> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const all = await Promise.all(servers.map(healthOf));
    for (const { status } of all) expect(status).toBe(200);
    if (all.every(({ body }) => body.events?.malformedDropped === dropped) || Date.now() > deadline) {
      expect(all.map(({ body }) => body.events?.malformedDropped)).toEqual(servers.map(() => dropped));
      return all.map(({ body }) => body.events!);
    }
    await settle(50);
  }
}

/** Waits for `count` events on each subscription, then a little longer; none may have had an error. */
async function expectEach(subscriptions: Subscription[], count: number) {
  const received = await Promise.all(subscriptions.map((subscription) => subscription.waitForEvents(count)));
  await settle(200);
  for (const subscription of subscriptions) {
    expect(subscription.errors).toEqual([]);
    expect(subscription.events).toHaveLength(count);
    expect(subscription.isCompleted()).toBe(false);
  }
  return received;
}

const SEND = `mutation ($id: ID!, $body: String!) { sendMessage(conversationId: $id, body: $body) { id } }`;

describe('events from Redis are untrusted input', () => {
  it('conversation channel: junk, missing audience, unknown or mistyped events are dropped on every instance; valid ones reach every subscriber', async () => {
    const [a, b] = (await startCluster(2)) as [TestServer, TestServer];
    const p = await people();
    const conversation = (await ok(a, 'mutation { createConversation(memberIds: ["bob"]) { id } }', {}, p.alice))
      .createConversation.id as string;
    const subscribers = await Promise.all(
      [a, b].flatMap((server) =>
        [p.alice, p.bob].map((token) =>
          subscribeWs(server, wsClient(server, token), CONVERSATION_EVENTS, { id: conversation }),
        ),
      ),
    );
    const message = {
      id: 'forged',
      orgId: 'org-a',
      conversationId: conversation,
      seq: 1,
      senderId: 'alice',
      body: 'forged',
      status: 'QUEUED',
      reactions: [],
      clientMessageId: null,
      createdAt: NOW,
      editedAt: null,
      deleted: false,
    };
    const audience = ['alice', 'bob'];
    const added = { __typename: 'MessageAdded', message, occurredAt: NOW, audience };
    const junk = [
      ...NOT_EVENTS,
      // An older publisher: no audience, which every subscriber's filter reads.
      { __typename: 'MessageAdded', message, occurredAt: NOW },
      // The wrong type where a filter reads (a string has `includes` too).
      { ...added, audience: 'alice bob' },
      { ...added, audience: [1, 2] },
      // A MembersChanged without its members (read by the subscription's isLast).
      { __typename: 'MembersChanged', occurredAt: NOW, audience },
      { __typename: 'MembersChanged', memberIds: 'bob', occurredAt: NOW, audience },
      // An event this version does not know.
      { __typename: 'MessageExploded', occurredAt: NOW, audience },
      { __typename: null, occurredAt: NOW, audience },
      { occurredAt: NOW, audience },
      // Wrong types and missing fields where the resolvers read.
      { ...added, message: { ...message, body: 42 } },
      { ...added, message: { ...message, status: 'EXPLODED' } },
      { ...added, message: { ...message, reactions: null } },
      { ...added, message: null },
      { ...added, occurredAt: 'yesterday' },
      { ...added, occurredAt: 1_700_000_000_000 },
      { __typename: 'TypingChanged', userId: 'bob', isTyping: 'yes', occurredAt: NOW, audience },
      { __typename: 'MessageDeleted', occurredAt: NOW, audience },
    ];
    const publisher = rawPublisher();
    const channel = redisChannel(a.config.redisPrefix, topics.conversation('org-a', conversation));
    await poison(publisher, channel, junk);
    // A newer publisher's event: fields this version does not know are no reason to refuse it.
    await poison(publisher, channel, [
      { ...added, message: { ...message, id: 'from-a-newer-version', priority: 'high' }, origin: { region: 'eu' } },
    ]);
    const sent = (await ok(a, SEND, { id: conversation, body: 'after the junk' }, p.alice)).sendMessage.id as string;

    const received = await expectEach(subscribers, 2);
    for (const events of received) {
      expect(events.map((event) => [event.__typename, event.message.id])).toEqual([
        ['MessageAdded', 'from-a-newer-version'],
        ['MessageAdded', sent],
      ]);
    }
    const counts = await expectDropsCounted([a, b], junk.length);
    expect(counts.map((count) => count.listenerErrors)).toEqual([0, 0]);
  });

  it('task channel: an event without its task (read by every filter) or with the wrong types reaches nobody', async () => {
    const [a, b] = (await startCluster(2)) as [TestServer, TestServer];
    const p = await people();
    const TASK_EVENTS = `subscription ($assigneeId: ID) {
      taskEvents(assigneeId: $assigneeId) { __typename ... on TaskCreated { task { id title assigneeId } } }
    }`;
    const subscribers = await Promise.all(
      [a, b].flatMap((server) => [
        subscribeWs(server, wsClient(server, p.admin), TASK_EVENTS, {}),
        subscribeWs(server, wsClient(server, p.bob), TASK_EVENTS, { assigneeId: 'bob' }),
      ]),
    );
    const task = {
      id: 'forged',
      orgId: 'org-a',
      seq: 1,
      title: 'Forged',
      description: null,
      assigneeId: 'bob',
      status: 'TODO',
      progress: 0,
      notes: [],
      createdAt: NOW,
      updatedAt: NOW,
    };
    const created = { __typename: 'TaskCreated', task, occurredAt: NOW };
    const junk = [
      ...NOT_EVENTS,
      { __typename: 'TaskCreated', occurredAt: NOW },
      { ...created, task: null },
      { ...created, task: 'forged' },
      { ...created, task: { ...task, id: undefined } },
      { ...created, task: { ...task, assigneeId: 7 } },
      { ...created, task: { ...task, progress: 'half' } },
      { ...created, task: { ...task, notes: [{ id: 'n' }] } },
      { ...created, task: { ...task, createdAt: 'Tuesday' } },
      { __typename: 'TaskAssigned', task, previousAssigneeId: ['bob'], occurredAt: NOW },
      { __typename: 'TaskExploded', task, occurredAt: NOW },
    ];
    const publisher = rawPublisher();
    await poison(publisher, redisChannel(a.config.redisPrefix, topics.tasks('org-a')), junk);
    const CREATE = `mutation ($input: CreateTaskInput!) { createTask(input: $input) { id } }`;
    const id = (await ok(b, CREATE, { input: { title: 'Real', assigneeId: 'bob' } }, p.admin)).createTask.id as string;

    const received = await Promise.all(subscribers.map((subscription) => subscription.waitForEvents(1)));
    await settle(200);
    for (const [index, subscription] of subscribers.entries()) {
      expect(subscription.errors).toEqual([]);
      expect(received[index]![0]).toEqual({
        __typename: 'TaskCreated',
        task: { id, title: 'Real', assigneeId: 'bob' },
      });
      expect(subscription.events.every((event) => event.__typename !== 'TaskCreated' || event.task.id === id)).toBe(
        true,
      );
    }
    await expectDropsCounted([a, b], junk.length);
  });

  it('session, inbox, presence, notification and campaign channels: junk is dropped, valid events still arrive', async () => {
    const [a, b] = (await startCluster(2)) as [TestServer, TestServer];
    const p = await people();
    const sessionId = (await ok(a, 'mutation { createSession(name: "Phone") { id } }', {}, p.alice)).createSession
      .id as string;
    const campaignId = (
      await ok(
        a,
        'mutation ($input: CreateCampaignInput!) { createCampaign(input: $input) { id } }',
        { input: { name: 'Spring', sessionId, message: 'Hi', recipients: ['+4917000000001'] } },
        p.alice,
      )
    ).createCampaign.id as string;
    const conversation = (await ok(a, 'mutation { createConversation(memberIds: ["bob"]) { id } }', {}, p.alice))
      .createConversation.id as string;
    const watch = (server: TestServer) => [
      subscribeWs(server, wsClient(server, p.alice), SESSION_EVENTS, { sessionId }),
      subscribeWs(server, wsClient(server, p.bob), INBOX_EVENTS),
      subscribeWs(server, wsClient(server, p.alice), PRESENCE_EVENTS, { userIds: ['carol'] }),
      subscribeWs(server, wsClient(server, p.bob), NOTIFICATION_EVENTS),
      subscribeWs(server, wsClient(server, p.alice), CAMPAIGN_EVENTS, { campaignId }),
    ];
    const [onA, onB] = [await Promise.all(watch(a)), await Promise.all(watch(b))];
    const prefix = a.config.redisPrefix;
    const poisoned: [string, unknown[]][] = [
      [
        topics.session('org-a', sessionId),
        [
          { __typename: 'QrCodeUpdated', sessionId, occurredAt: NOW },
          { __typename: 'SessionStatusChanged', sessionId, status: 'ON_FIRE', occurredAt: NOW },
          { __typename: 'SessionExploded', sessionId, occurredAt: NOW },
        ],
      ],
      [
        topics.inbox('org-a'),
        [
          { __typename: 'ConversationUpdated', conversation: { id: conversation }, audience: ['bob'], occurredAt: NOW },
          {
            __typename: 'UnreadCountChanged',
            conversationId: conversation,
            asOfSeq: 'many',
            audience: ['bob'],
            occurredAt: NOW,
          },
        ],
      ],
      [
        topics.presence('org-a', 'carol'),
        [
          // The filter orders by `flip` and `userId`.
          { __typename: 'PresenceChanged', userId: 'carol', online: true, lastSeenAt: NOW, occurredAt: NOW },
          { __typename: 'PresenceChanged', online: true, lastSeenAt: NOW, occurredAt: NOW, flip: 99 },
        ],
      ],
      [
        topics.notifications('org-a', 'bob'),
        [
          { __typename: 'NotificationCreated', notification: { id: 'n', title: 7 }, occurredAt: NOW },
          { __typename: 'NotificationsBulkRead', notificationIds: 'all', occurredAt: NOW },
        ],
      ],
      [
        topics.campaign('org-a', campaignId),
        [
          // Would end every dashboard's subscription (isLast) if it were let through.
          { __typename: 'CampaignCompleted', occurredAt: NOW },
          { __typename: 'CampaignProgress', campaignId, sent: -1, delivered: 0, failed: 0, total: 1, occurredAt: NOW },
        ],
      ],
    ];
    const publisher = rawPublisher();
    let dropped = 0;
    for (const [channel, wrong] of poisoned) {
      await poison(publisher, redisChannel(prefix, channel), [...NOT_EVENTS, ...wrong]);
      dropped += NOT_EVENTS.length + wrong.length;
    }

    // One valid event on each channel, through the API.
    await ok(
      b,
      'mutation ($input: SessionStatusReport!) { reportSessionStatus(input: $input) { status } }',
      { input: { sessionId, status: 'QR_REQUIRED', qrCode: 'real-qr' } },
      p.service,
    );
    await ok(a, SEND, { id: conversation, body: 'for the inbox' }, p.alice);
    await openTab(b, p.carol);
    await ok(
      a,
      'mutation ($input: SendNotificationInput!) { sendNotification(input: $input) { id } }',
      { input: { recipientId: 'bob', kind: 'test.real', title: 'Real' } },
      p.admin,
    );
    await ok(a, 'mutation ($id: ID!) { cancelCampaign(id: $id) { id } }', { id: campaignId }, p.alice);

    for (const [session, inbox, presence, notifications, campaign] of [onA, onB]) {
      const [sessionEvents] = await Promise.all([session!.waitForEvents(2)]);
      expect(sessionEvents.map((event) => event.__typename).sort()).toEqual(['QrCodeUpdated', 'SessionStatusChanged']);
      expect(sessionEvents.find((event) => event.__typename === 'QrCodeUpdated')).toMatchObject({ qrCode: 'real-qr' });
      const inboxEvents = await inbox!.waitForEvents(1);
      expect(
        inboxEvents.every((event) => event.conversation?.id === conversation || event.conversationId === conversation),
      ).toBe(true);
      expect(await presence!.waitForEvents(1)).toMatchObject([{ userId: 'carol', online: true }]);
      expect(await notifications!.waitForEvents(1)).toMatchObject([
        { __typename: 'NotificationCreated', notification: { title: 'Real' } },
      ]);
      expect(await campaign!.waitForEvents(1)).toMatchObject([{ __typename: 'CampaignCancelled', campaignId }]);
      await campaign!.completed;
    }
    await settle(200);
    for (const subscription of [...onA, ...onB]) {
      expect(subscription.errors).toEqual([]);
      expect(subscription.events.some((event) => JSON.stringify(event).includes('ON_FIRE'))).toBe(false);
    }
    for (const presence of [onA[2]!, onB[2]!]) expect(presence.events).toHaveLength(1);
    for (const campaign of [onA[4]!, onB[4]!]) expect(campaign.events).toHaveLength(1);
    await expectDropsCounted([a, b], dropped);
  });

  it("a listener, filter or isLast that throws loses that event alone: the channel's other subscribers get it", async () => {
    const [a, b] = (await startCluster(2)) as [TestServer, TestServer];
    const p = await people();
    const conversation = (await ok(a, 'mutation { createConversation(memberIds: ["bob"]) { id } }', {}, p.alice))
      .createConversation.id as string;
    const { bus } = a.server.runtime;
    const channel = topics.conversation('org-a', conversation);
    // Listening first, so that it runs before everyone else on the channel.
    const unlisten = await bus.listen(channel, () => {
      throw new Error('a listener that fails');
    });
    dispose(unlisten);
    const failingFilter = await subscribe(bus, channel, {
      filter: () => {
        throw new Error('a filter that fails');
      },
    });
    dispose(() => failingFilter.return());
    const failingIsLast = await subscribe(bus, channel, {
      isLast: () => {
        throw new Error('an isLast that fails');
      },
    });
    dispose(() => failingIsLast.return());
    const healthy = await subscribe(bus, channel);
    dispose(() => healthy.return());
    const subscribers = await Promise.all(
      [a, b].flatMap((server) =>
        [p.alice, p.bob].map((token) =>
          subscribeWs(server, wsClient(server, token), CONVERSATION_EVENTS, { id: conversation }),
        ),
      ),
    );

    const first = (await ok(b, SEND, { id: conversation, body: 'one' }, p.bob)).sendMessage.id as string;
    const second = (await ok(a, SEND, { id: conversation, body: 'two' }, p.alice)).sendMessage.id as string;

    for (const events of await expectEach(subscribers, 2)) {
      expect(events.map((event) => event.message.id)).toEqual([first, second]);
    }
    expect((await healthy.next()).value).toMatchObject({ message: { id: first } });
    expect((await healthy.next()).value).toMatchObject({ message: { id: second } });
    // Unsure whether the event ended the viewer's access, the subscription ends, without the event.
    expect(await failingIsLast.next()).toEqual({ value: undefined, done: true });
    const pending = failingFilter.next();
    expect(await Promise.race([pending, settle(100).then(() => 'nothing')])).toBe('nothing');
    // Per event: the listener and the filter (twice), the isLast (once: its subscription then ended).
    const [onA, onB] = await Promise.all([healthOf(a), healthOf(b)]);
    expect(onA.status).toBe(200);
    expect(onA.body.events).toEqual({ malformedDropped: 0, listenerErrors: 5 });
    expect(onB.body.events).toEqual({ malformedDropped: 0, listenerErrors: 0 });
  });

  it('a worker process: junk gateway commands and campaign work on their queues are dropped and logged briefly; it keeps working', async () => {
    const [a, b] = (await startCluster(2)) as [TestServer, TestServer];
    const worker = await startWorkerProcess(a.config.redisPrefix, { GATEWAY_QR_INTERVAL_MS: '60000' });
    const p = await people();
    const sessionId = (await ok(a, 'mutation { createSession(name: "Phone") { id } }', {}, p.alice)).createSession
      .id as string;
    const watchers = await Promise.all(
      [a, b].map((server) => subscribeWs(server, wsClient(server, p.alice), SESSION_EVENTS, { sessionId })),
    );
    const huge = `{"action":"connect","orgId":"org-a","sessionId":"${'x'.repeat(200_000)}`;
    const publisher = rawPublisher();
    const commands = [
      ...NOT_EVENTS,
      huge,
      { action: 'connect' },
      { action: 'connect', orgId: 'org-a', occurredAt: NOW },
      { action: 'explode', orgId: 'org-a', sessionId, occurredAt: NOW },
      { action: 'connect', orgId: 7, sessionId, occurredAt: NOW },
    ];
    const work = [...NOT_EVENTS, { campaignId: 5, occurredAt: NOW }, { occurredAt: NOW }];
    const queueOf = (channel: string) => commandStreamKey(a.config.redisPrefix, channel);
    await poisonQueue(publisher, queueOf(topics.gatewayCommands()), commands);
    await poisonQueue(publisher, queueOf(topics.campaignWork()), work);

    await ok(a, 'mutation ($id: ID!) { connectSession(id: $id) { status } }', { id: sessionId }, p.alice);
    for (const watcher of watchers) {
      const deadline = Date.now() + 10_000;
      while (!watcher.events.some((event) => event.__typename === 'QrCodeUpdated')) {
        if (Date.now() > deadline) throw new Error(`the worker never answered: ${JSON.stringify(watcher.events)}`);
        await settle(50);
      }
      expect(watcher.errors).toEqual([]);
    }
    expect(await Promise.race([worker.exited, settle(100).then(() => 'running')])).toBe('running');
    const drops = worker.logs.filter((entry) => entry.msg === 'dropped a malformed event');
    // The first of each channel kind, with its reason; the rest wait for the periodic summary.
    expect(drops.map((entry) => entry.channelKind).sort()).toEqual(['campaignWork', 'gatewayCommands']);
    for (const entry of drops) expect(entry.reason).toEqual(expect.any(String));
    for (const entry of worker.logs) expect(JSON.stringify(entry).length).toBeLessThan(2000);
    // Junk and commands alike were acknowledged: nothing is left for another worker to take over.
    for (const channel of [topics.gatewayCommands(), topics.campaignWork()]) {
      expect(((await publisher.xpending(queueOf(channel), 'workers')) as [number])[0]).toBe(0);
    }
  });
});

import { createConnection } from 'node:net';
import { describe, expect, inject, it } from 'vitest';
import {
  dispose,
  errorCode,
  gql,
  health,
  ok,
  startTestServer,
  subscribeWs,
  tokenFor,
  user,
  wsClient,
  type TestServer,
} from '../support/harness.js';
import { createPublisher, PublishError } from '../../src/publisher/index.js';
import { startRedisProxy } from '../support/redis-proxy.js';
import { startRedisServer } from '../support/redis-server.js';
import { CONVERSATION_EVENTS, INBOX_EVENTS } from '../conversations/support.js';
import { sleep } from './raw-ws.js';

const bin = inject('redisServerBin');

const COMMAND_TIMEOUT_MS = 300;
const CREATE = 'mutation ($members: [ID!]!) { createConversation(memberIds: $members) { id } }';
const SEND = `mutation ($id: ID!, $body: String!, $key: String) {
  sendMessage(conversationId: $id, body: $body, clientMessageId: $key) { id body }
}`;
const MESSAGES = 'query ($id: ID!) { messages(conversationId: $id) { id body } }';

/** A server on a Redis of its own, reached through a proxy that injects faults, with a short command timeout. */
async function faultyDeployment() {
  const redis = await startRedisServer(bin!);
  dispose(() => redis.stop());
  const proxy = await startRedisProxy(redis);
  dispose(() => proxy.close());
  const server = await startTestServer({
    env: { REDIS_URL: proxy.url, REDIS_PREFIX: 'wo:', REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS) },
  });
  return { redis, proxy, server };
}

async function untilHealth(server: TestServer, status: number) {
  const deadline = Date.now() + 10_000;
  while ((await health(server)).status !== status) {
    if (Date.now() > deadline) throw new Error(`/health never answered ${status}`);
    await sleep(50);
  }
}

describe.skipIf(!bin)('honest write outcomes', () => {
  it('answers OUTCOME_UNKNOWN for a send Redis ran after the client gave up; the retry returns that message, stored and announced once', async () => {
    const { proxy, server } = await faultyDeployment();
    const alice = await tokenFor(user('alice'));
    const bob = await tokenFor(user('bob'));
    const id = (await ok(server, CREATE, { members: ['bob'] }, alice)).createConversation.id as string;
    const conversation = await subscribeWs(server, wsClient(server, bob), CONVERSATION_EVENTS, { id });
    const inbox = await subscribeWs(server, wsClient(server, bob), INBOX_EVENTS);

    // The command that stores the message (the first to carry its body) reaches
    // Redis only well after the command timeout.
    const stalled = proxy.stallNext('"body":"hello"', COMMAND_TIMEOUT_MS * 4);
    const first = await gql(server, SEND, { id, body: 'hello', key: 'send-1' }, { token: alice });
    await stalled;
    expect(errorCode(first)).toBe('OUTCOME_UNKNOWN');
    expect(first.status).toBe(503);
    expect(first.errors![0]!.message).toMatch(/may or may not have been made/);
    expect(JSON.stringify(first.errors)).not.toMatch(/timed out|redis|stream/i);

    // It did happen: the message and its event, recorded together, after the client had its answer.
    const [added] = await conversation.waitForEvents(1, 10_000);
    expect(added).toMatchObject({ __typename: 'MessageAdded', message: { body: 'hello' } });

    const retry = await ok(server, SEND, { id, body: 'hello', key: 'send-1' }, alice);
    expect(retry.sendMessage.id).toBe(added.message.id);
    const stored = await ok(server, MESSAGES, { id }, alice);
    expect(stored.messages).toEqual([{ id: added.message.id, body: 'hello' }]);

    // The first call never got to the inbox events that follow the insert: the retry publishes them.
    await inbox.waitForEvents(2, 10_000);
    expect(inbox.events).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ __typename: 'UnreadCountChanged', conversationId: id, unreadCount: 1 }),
        expect.objectContaining({
          __typename: 'ConversationUpdated',
          conversation: expect.objectContaining({ id, lastMessage: expect.objectContaining({ id: added.message.id }) }),
        }),
      ]),
    );
    await sleep(300);
    expect(conversation.events.filter((event) => event.__typename === 'MessageAdded')).toHaveLength(1);

    // Over WebSocket alike.
    const again = proxy.stallNext('"body":"over ws"', COMMAND_TIMEOUT_MS * 4);
    const overWs = await subscribeWs(server, wsClient(server, alice), SEND, { id, body: 'over ws', key: 'send-3' });
    await again;
    expect(JSON.stringify(await overWs.waitForError())).toContain('OUTCOME_UNKNOWN');
  });

  it('answers SERVICE_UNAVAILABLE, and stores nothing, when Redis is gone before anything is sent', async () => {
    const { proxy, server } = await faultyDeployment();
    const alice = await tokenFor(user('alice'));
    const id = (await ok(server, CREATE, { members: ['bob'] }, alice)).createConversation.id as string;

    proxy.cut();
    await untilHealth(server, 503);
    const send = await gql(server, SEND, { id, body: 'lost?', key: 'send-2' }, { token: alice });
    expect(errorCode(send)).toBe('SERVICE_UNAVAILABLE');
    const task = await gql(
      server,
      'mutation { createTask(input: { title: "t" }, idempotencyKey: "t-1") { id } }',
      {},
      {
        token: alice,
      },
    );
    expect(errorCode(task)).toBe('SERVICE_UNAVAILABLE');

    proxy.restore();
    await untilHealth(server, 200);
    expect((await ok(server, MESSAGES, { id }, alice)).messages).toEqual([]);
    expect((await ok(server, '{ tasks { id } }', {}, alice)).tasks).toEqual([]);
  });

  it('tells a publisher the same: SERVICE_UNAVAILABLE before any write, OUTCOME_UNKNOWN after one; its creates take an idempotency key', async () => {
    const { proxy, server } = await faultyDeployment();
    const publisher = await createPublisher({
      redisUrl: proxy.url,
      redisPrefix: 'wo:',
      actor: { id: 'backend', roles: ['agent'] },
      redisCommandTimeoutMs: COMMAND_TIMEOUT_MS,
    });
    dispose(() => publisher.close());
    const task = { orgId: 'org-a', title: 'From the backend', idempotencyKey: 'job-7' };
    const failure = (promise: Promise<unknown>) =>
      promise.then(
        () => undefined,
        (error: unknown) => error as PublishError,
      );

    const stalled = proxy.stallNext('"title":"From the backend"', COMMAND_TIMEOUT_MS * 4);
    const unknown = await failure(publisher.tasks.create(task));
    await stalled;
    expect(unknown).toBeInstanceOf(PublishError);
    expect(unknown?.code).toBe('OUTCOME_UNKNOWN');
    await sleep(COMMAND_TIMEOUT_MS * 4);
    const retried = await publisher.tasks.create(task);
    const agent = await tokenFor(user('agent-1'));
    expect((await ok(server, '{ tasks { id } }', {}, agent)).tasks).toEqual([{ id: retried.id }]);

    proxy.cut();
    await untilHealth(server, 503);
    const down = await failure(publisher.tasks.create({ ...task, idempotencyKey: 'job-8' }));
    expect(down?.code).toBe('SERVICE_UNAVAILABLE');
  });

  it('sends a write once: one whose reply was lost with its connection is not sent again after reconnecting', async () => {
    const { proxy, server } = await faultyDeployment();
    const alice = await tokenFor(user('alice'));
    const bob = await tokenFor(user('bob'));
    const id = (await ok(server, CREATE, { members: ['bob'] }, alice)).createConversation.id as string;
    const conversation = await subscribeWs(server, wsClient(server, bob), CONVERSATION_EVENTS, { id });

    const dropped = proxy.dropReplyOfNext('"__typename":"TypingChanged"');
    const typing = await gql(
      server,
      'mutation ($id: ID!) { setTyping(conversationId: $id, isTyping: true) }',
      { id },
      { token: alice },
    );
    await dropped;
    expect(errorCode(typing)).toBe('OUTCOME_UNKNOWN');
    await untilHealth(server, 200);
    await conversation.waitForEvents(1, 10_000);
    await sleep(500);
    expect(conversation.events.filter((event) => event.__typename === 'TypingChanged')).toHaveLength(1);
  });

  it('publishes the event of every change from inside the script that makes the change', async () => {
    const { redis, server } = await faultyDeployment();
    // MONITOR over a plain socket (ioredis' monitor mode races its first lines).
    // Each executed command is a line: +<time> [<db> <client address or "lua">] "<command>" "<arg>" …
    const published: { typename?: string; action?: string; source: string }[] = [];
    const monitor = createConnection({ port: redis.port, host: '127.0.0.1' });
    dispose(() => monitor.destroy());
    let pending = '';
    monitor.on('data', (chunk: Buffer) => {
      const lines = (pending + chunk.toString()).split('\r\n');
      pending = lines.pop()!;
      for (const line of lines) {
        const command = /^\+[\d.]+ \[\d+ ([^\]]+)\] "(\w+)"/.exec(line);
        // Events are published; commands (connectSession's) are appended to their queue's stream.
        if (!['publish', 'xadd'].includes(command?.[2]?.toLowerCase() ?? '')) continue;
        const typename = /__typename\\":\\"(\w+)/.exec(line)?.[1];
        const action = /action\\":\\"(\w+)/.exec(line)?.[1];
        published.push({ typename, action, source: command![1]! });
      }
    });
    monitor.write('MONITOR\r\n');
    await new Promise((resolve) => monitor.once('data', resolve));
    const admin = await tokenFor(user('admin-1', ['admin']));
    const alice = await tokenFor(user('alice'));

    const conversationId = (await ok(server, CREATE, { members: ['bob'] }, alice)).createConversation.id;
    const message = (await ok(server, SEND, { id: conversationId, body: 'hi' }, alice)).sendMessage.id;
    await ok(server, 'mutation ($id: ID!) { editMessage(id: $id, body: "hi!") { id } }', { id: message }, alice);
    await ok(
      server,
      'mutation ($id: ID!) { reactToMessage(messageId: $id, emoji: "👍") { id } }',
      { id: message },
      alice,
    );
    await ok(
      server,
      'mutation ($id: ID!) { markConversationRead(conversationId: $id) { id } }',
      { id: conversationId },
      await tokenFor(user('bob')),
    );
    await ok(
      server,
      'mutation ($id: ID!) { addConversationMembers(conversationId: $id, userIds: ["carol"]) { id } }',
      { id: conversationId },
      alice,
    );
    await ok(server, 'mutation ($id: ID!) { deleteMessage(id: $id) { id } }', { id: message }, alice);
    const task = (
      await ok(server, 'mutation { createTask(input: { title: "t", assigneeId: "alice" }) { id } }', {}, alice)
    ).createTask.id;
    await ok(server, 'mutation ($id: ID!) { setTaskStatus(id: $id, status: DONE) { id } }', { id: task }, alice);
    await ok(server, 'mutation ($id: ID!) { addTaskNote(id: $id, text: "n") { id } }', { id: task }, alice);
    const notification = (
      await ok(
        server,
        'mutation { sendNotification(input: { recipientId: "admin-1", kind: "k", title: "t" }) { id } }',
        {},
        admin,
      )
    ).sendNotification.id;
    await ok(server, 'mutation ($id: ID!) { markNotificationRead(id: $id) { id } }', { id: notification }, admin);
    await ok(server, 'mutation ($id: ID!) { deleteNotification(id: $id) }', { id: notification }, admin);
    const session = (await ok(server, 'mutation { createSession(name: "s") { id } }', {}, alice)).createSession.id;
    await ok(server, 'mutation ($id: ID!) { connectSession(id: $id) { id } }', { id: session }, alice);
    await ok(server, 'mutation ($id: ID!) { deleteSession(id: $id) }', { id: session }, alice);
    const sessionForCampaign = (await ok(server, 'mutation { createSession(name: "c") { id } }', {}, alice))
      .createSession.id;
    const campaign = (
      await ok(
        server,
        'mutation ($s: ID!) { createCampaign(input: { name: "c", sessionId: $s, message: "m", recipients: ["+15550100001"] }) { id } }',
        { s: sessionForCampaign },
        alice,
      )
    ).createCampaign.id;
    await ok(server, 'mutation ($id: ID!) { cancelCampaign(id: $id) { id } }', { id: campaign }, alice);
    await sleep(200);

    const primary = [
      'ConversationUpdated', // createConversation's, with the insert
      'MessageAdded',
      'MessageEdited',
      'ReactionsChanged',
      'MessagesRead',
      'MembersChanged',
      'MessageDeleted',
      'TaskCreated',
      'TaskAssigned',
      'TaskStatusChanged',
      'TaskCompleted',
      'TaskNoteAdded',
      'NotificationCreated',
      'NotificationRead',
      'NotificationDeleted',
      'SessionStatusChanged',
      'SessionDeleted',
      'CampaignCancelled',
    ];
    for (const typename of primary) {
      const fromScripts = published.filter((p) => p.typename === typename && p.source === 'lua');
      expect(fromScripts.length, `${typename} published inside the write's script`).toBeGreaterThan(0);
    }
    // The gateway command of connectSession travels with the change too (to its queue).
    expect(published.some((p) => p.action === 'connect' && p.source === 'lua')).toBe(true);
    // Nothing of those is published on its own afterwards.
    const outside = published.filter((p) => p.source !== 'lua' && primary.slice(1).includes(p.typename!));
    expect(outside).toEqual([]);
  });
});

import type { Client } from 'graphql-ws';
import { Redis } from 'ioredis';
import { topics } from '../../src/events/topics.js';
import { describe, expect, inject, it } from 'vitest';
import {
  dispose,
  errorCode,
  gql,
  health,
  ok,
  startTestServer,
  tokenFor,
  uniquePrefix,
  user,
  wsClient,
} from '../support/harness.js';
import { startRedisServer } from '../support/redis-server.js';
import { sessionFixture, SESSION_EVENTS } from './fixtures.js';
import { subscribeWs } from '../support/harness.js';
import { sleep } from './raw-ws.js';

interface Outcome {
  /** Errors in `next` payloads. */
  results: { errors?: any[] }[];
  /** The payload of an `error` message (graphql-ws hands it to `error` as the array of errors). */
  failure?: any[];
}

/** Runs one operation with a real graphql-ws client until it completes or fails. */
function run(client: Client, query: string, variables: Record<string, unknown> = {}, until?: () => boolean) {
  return new Promise<Outcome>((resolve) => {
    const outcome: Outcome = { results: [] };
    const stop = client.subscribe(
      { query, variables },
      {
        next: (result) => {
          outcome.results.push(result as Outcome['results'][number]);
          if (until?.()) {
            stop();
            resolve(outcome);
          }
        },
        error: (error) => resolve({ ...outcome, failure: error as any[] }),
        complete: () => resolve(outcome),
      },
    );
    dispose(stop);
  });
}

/** Every error a client received, wherever the protocol carried it. */
const errorsOf = (outcome: Outcome) => [
  ...outcome.results.flatMap((result) => result.errors ?? []),
  ...(outcome.failure ?? []),
];

/** The contract's code is there; nothing meant for the transport is. */
function expectPublic(errors: any[], code: string) {
  expect(errors.length).toBeGreaterThan(0);
  for (const error of errors) {
    expect(error.extensions?.code).toBe(code);
    expect(error.extensions).not.toHaveProperty('http');
    expect(error.extensions).not.toHaveProperty('unexpected');
  }
}

describe('errors over WebSocket carry what HTTP shows, and no transport internals', () => {
  it('RATE_LIMITED past the burst, for a query and a subscription start: retryAfterMs, no extensions.http', async () => {
    const server = await startTestServer({ env: { RATE_LIMIT_BURST: '1', RATE_LIMIT_PER_SECOND: '1' } });
    const { agent, sessionId } = await sessionFixture(server);
    // The same refusal over HTTP, for comparison: a 429 whose body has no `http` either.
    const overHttp = await gql(server, '{ me { id } }', {}, { token: agent });
    expect(overHttp.status).toBe(429);
    expectPublic(overHttp.errors!, 'RATE_LIMITED');

    const client = wsClient(server, agent);
    const query = errorsOf(await run(client, '{ me { id } }'));
    expectPublic(query, 'RATE_LIMITED');
    expect(query[0].extensions.retryAfterMs).toBeGreaterThan(0);
    expectPublic(errorsOf(await run(client, SESSION_EVENTS, { sessionId })), 'RATE_LIMITED');
  });

  it('RATE_LIMITED for an operation over MAX_SUBSCRIPTIONS_PER_CONNECTION (an `error` message)', async () => {
    const server = await startTestServer({ env: { MAX_SUBSCRIPTIONS_PER_CONNECTION: '1' } });
    const { agent, sessionId } = await sessionFixture(server);
    const client = wsClient(server, agent);
    void run(client, SESSION_EVENTS, { sessionId });
    while ((await health(server)).body.subscriptions < 1) await sleep(10);
    const refused = await run(client, '{ me { id } }');
    expect(refused.failure).toBeDefined();
    expectPublic(errorsOf(refused), 'RATE_LIMITED');
  });

  it('NOT_FOUND and validation errors keep their code', async () => {
    const server = await startTestServer();
    const { agent } = await sessionFixture(server);
    const client = wsClient(server, agent);
    const missing = errorsOf(await run(client, '{ session(id: "nope") { id } }'));
    expectPublic(missing, 'NOT_FOUND');
    expectPublic(errorsOf(await run(client, '{ me { nope } }')), 'BAD_USER_INPUT');
  });
});

const bin = inject('redisServerBin');

describe.skipIf(!bin)('errors over WebSocket while Redis is away', () => {
  it('SERVICE_UNAVAILABLE for a query and a refused subscription: no extensions.http', async () => {
    const redis = await startRedisServer(bin!);
    dispose(() => redis.stop());
    const server = await startTestServer({ env: { REDIS_URL: redis.url, REDIS_PREFIX: uniquePrefix() } });
    const agent = await tokenFor(user('agent-1', ['agent']));
    const sessionId = (await ok(server, 'mutation { createSession(name: "s") { id } }', {}, agent)).createSession.id;
    const client = wsClient(server, agent);
    await run(client, '{ me { id } }');
    await redis.stop();
    while ((await health(server)).status !== 503) await sleep(50);

    const overHttp = await gql(server, '{ sessions { id } }', {}, { token: agent });
    expect(errorCode(overHttp)).toBe('SERVICE_UNAVAILABLE');
    expectPublic(errorsOf(await run(client, '{ sessions { id } }')), 'SERVICE_UNAVAILABLE');
    expectPublic(errorsOf(await run(client, SESSION_EVENTS, { sessionId })), 'SERVICE_UNAVAILABLE');
  });
});

describe.skipIf(!bin)('errors in a subscription event over WebSocket (the shared fan-out path)', () => {
  it('SERVICE_UNAVAILABLE for a field Redis could not answer: the event arrives with its code, no extensions.http', async () => {
    const redis = await startRedisServer(bin!);
    dispose(() => redis.stop());
    const prefix = uniquePrefix();
    const server = await startTestServer({ env: { REDIS_URL: redis.url, REDIS_PREFIX: prefix } });
    const alice = await tokenFor(user('alice'));
    const bob = await tokenFor(user('bob'));
    const create = 'mutation ($m: [ID!]!) { createConversation(memberIds: $m) { id } }';
    const id = (await ok(server, create, { m: ['bob'] }, alice)).createConversation.id;
    const send = 'mutation ($id: ID!) { sendMessage(conversationId: $id, body: "hi") { id } }';
    await ok(server, send, { id }, alice);

    // A real ConversationUpdated as it travels on bob's inbox channel, to publish again below.
    const channel = `${prefix}{o:org-a}${topics.inbox('org-a')}`;
    const listener = new Redis(redis.url);
    const raw = new Redis(redis.url);
    dispose(() => (listener.disconnect(), raw.disconnect()));
    await listener.subscribe(channel);
    const captured = new Promise<string>((resolve) =>
      listener.on('message', (_channel, message: string) => {
        if (message.includes('ConversationUpdated')) resolve(message);
      }),
    );
    // Subscribed first: the server reads the members of the event's version once, while Redis answers.
    const inbox = await subscribeWs(
      server,
      wsClient(server, bob),
      'subscription { inboxEvents { __typename ... on ConversationUpdated { conversation { id lastMessage { body } } } } }',
    );
    await ok(
      server,
      'mutation ($id: ID!) { addConversationMembers(conversationId: $id, userIds: ["carol"]) { id } }',
      { id },
      alice,
    );
    // Without its offset: the subscriber has had that one (a repeat of it would be dropped).
    const event = JSON.stringify((JSON.parse(await captured) as { payload: unknown }).payload);
    await inbox.waitForEvents(1);

    // The event is delivered, then Redis stalls before the server can read the last message for bob
    // (one pipeline: Redis runs both before it writes the event out). The read times out.
    await raw.pipeline().publish(channel, event).call('CLIENT', 'PAUSE', '5500', 'ALL').exec();
    const error = await inbox.waitForError(10_000);
    expect(inbox.events[1]).toMatchObject({
      __typename: 'ConversationUpdated',
      conversation: { id, lastMessage: null },
    });
    expectPublic([error], 'SERVICE_UNAVAILABLE');
    expect(inbox.isCompleted()).toBe(false);
  }, 20_000);
});

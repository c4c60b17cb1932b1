/**
 * The plain GraphQL stack a team would assemble: graphql-ws on ws,
 * @graphql-tools/schema, graphql-redis-subscriptions with withFilter.
 * Same subscription shape as ours (sessionEvents over a union). Phase 7:
 * `sendMessage` over HTTP stores the message (./common.ts) and publishes
 * it to the room's `messageAdded` subscribers.
 */
import { createServer, type IncomingMessage } from 'node:http';
import { graphql } from 'graphql';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { RedisPubSub } from 'graphql-redis-subscriptions';
import { withFilter } from 'graphql-subscriptions';
import { useServer } from 'graphql-ws/use/ws';
import { Redis } from 'ioredis';
import { WebSocketServer } from 'ws';
import { env, serve, storeMessage, verify, type ChatMessage } from './common.js';

const typeDefs = /* GraphQL */ `
  scalar DateTime
  type Query {
    ok: Boolean!
  }
  type Message {
    id: ID!
    roomId: ID!
    senderId: ID!
    body: String!
    createdAt: DateTime!
  }
  type Mutation {
    sendMessage(roomId: ID!, body: String!): Message!
  }
  type Subscription {
    sessionEvents(sessionId: ID!): SessionEvent!
    messageAdded(roomId: ID!): Message!
  }
  union SessionEvent = QrCodeUpdated | SessionDeleted
  type QrCodeUpdated {
    sessionId: ID!
    qrCode: String!
    occurredAt: DateTime!
  }
  type SessionDeleted {
    sessionId: ID!
    occurredAt: DateTime!
  }
`;

const store = new Redis(env.redisUrl);
const pubsub = new RedisPubSub({ publisher: new Redis(env.redisUrl), subscriber: new Redis(env.redisUrl) });
const channel = (orgId: string, sessionId: string) => `${env.prefix}org:${orgId}:session:${sessionId}`;
const roomChannel = (orgId: string, roomId: string) => `${env.prefix}org:${orgId}:room:${roomId}`;

interface Context {
  user: { id: string; orgId: string };
}

const schema = makeExecutableSchema({
  typeDefs,
  resolvers: {
    Query: { ok: () => true },
    Mutation: {
      sendMessage: async (_root, args: { roomId: string; body: string }, context: Context) => {
        const message = await storeMessage(store, args.roomId, context.user.id, args.body);
        await pubsub.publish(roomChannel(context.user.orgId, args.roomId), message);
        return message;
      },
    },
    Subscription: {
      messageAdded: {
        subscribe: (_root: unknown, args: { roomId: string }, context: Context) =>
          pubsub.asyncIterator(roomChannel(context.user.orgId, args.roomId)),
        resolve: (message: ChatMessage) => message,
      },
      sessionEvents: {
        subscribe: withFilter(
          (_root, args?: { sessionId: string }, context?: Context) =>
            pubsub.asyncIterator(channel(context!.user.orgId, args!.sessionId)),
          (payload?: { sessionId: string }, args?: { sessionId: string }) => payload?.sessionId === args?.sessionId,
        ),
        resolve: (event: unknown) => event,
      },
    },
  },
});

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

/** Queries and mutations over HTTP POST /graphql, with the same bearer token check as the WebSocket. */
const server = createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/graphql') return void res.writeHead(404).end();
  void (async () => {
    const user = await verify(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (!user) return void res.writeHead(401).end();
    const { query, variables } = JSON.parse(await readBody(req)) as {
      query: string;
      variables?: Record<string, unknown>;
    };
    const result = await graphql({ schema, source: query, variableValues: variables, contextValue: { user } });
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(result));
  })();
});
const wss = new WebSocketServer({ server, path: '/graphql' });
const graphqlWs = useServer(
  {
    schema,
    onConnect: async ({ connectionParams, extra }) => {
      const raw = String(connectionParams?.authorization ?? '');
      const user = await verify(raw.replace(/^Bearer /, ''));
      if (!user) return false;
      (extra as { user?: Context['user'] }).user = user;
      return true;
    },
    context: ({ extra }) => ({ user: (extra as unknown as { user: Context['user'] }).user }),
  },
  wss,
);

serve(server, async () => {
  await graphqlWs.dispose();
  await pubsub.close();
  store.disconnect();
});

/**
 * The plain GraphQL stack a team would assemble: graphql-ws on ws,
 * @graphql-tools/schema, graphql-redis-subscriptions with withFilter.
 * Same subscription shape as ours (sessionEvents over a union).
 */
import { createServer } from 'node:http';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { RedisPubSub } from 'graphql-redis-subscriptions';
import { withFilter } from 'graphql-subscriptions';
import { useServer } from 'graphql-ws/use/ws';
import { Redis } from 'ioredis';
import { WebSocketServer } from 'ws';
import { env, serve, verify } from './common.js';

const typeDefs = /* GraphQL */ `
  scalar DateTime
  type Query {
    ok: Boolean!
  }
  type Subscription {
    sessionEvents(sessionId: ID!): SessionEvent!
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

const pubsub = new RedisPubSub({ publisher: new Redis(env.redisUrl), subscriber: new Redis(env.redisUrl) });
const channel = (orgId: string, sessionId: string) => `${env.prefix}org:${orgId}:session:${sessionId}`;

interface Context {
  user: { id: string; orgId: string };
}

const schema = makeExecutableSchema({
  typeDefs,
  resolvers: {
    Query: { ok: () => true },
    Subscription: {
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

const server = createServer((_req, res) => res.writeHead(404).end());
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
});

import type { Resolvers } from '../generated/graphql.js';
import { yieldedEvent } from '../errors.js';

/** Sessions: thin resolvers over {@link SessionService}. */
export const sessionResolvers: Resolvers = {
  Query: {
    session: (_, { id }, { viewer, services }) => services.sessions.get(viewer, id),
    sessions: (_, args, { viewer, services }) => services.sessions.list(viewer, args),
  },
  Mutation: {
    createSession: (_, { name, idempotencyKey }, { viewer, services }) =>
      services.sessions.create(viewer, name, idempotencyKey),
    connectSession: (_, { id }, { viewer, services }) => services.sessions.connect(viewer, id),
    disconnectSession: (_, { id }, { viewer, services }) => services.sessions.disconnect(viewer, id),
    deleteSession: (_, { id }, { viewer, services }) => services.sessions.remove(viewer, id),
    reportSessionStatus: (_, { input }, { viewer, services }) => services.sessions.reportStatus(viewer, input),
  },
  Subscription: {
    sessionEvents: {
      subscribe: (_, { sessionId }, { viewer, services, accessSignal }) =>
        services.sessions.subscribe(viewer, sessionId, accessSignal()),
      resolve: yieldedEvent,
    },
  },
};

import type { Resolvers } from '../generated/graphql.js';
import { yieldedEvent } from '../errors.js';

/** Presence: thin resolvers over {@link PresenceService}. */
export const presenceResolvers: Resolvers = {
  Query: {
    presence: (_, { userIds }, { viewer, services }) => services.presence.get(viewer, userIds),
  },
  Subscription: {
    presenceChanged: {
      subscribe: (_, { userIds }, { viewer, services, accessSignal }) =>
        services.presence.subscribe(viewer, userIds, accessSignal()),
      resolve: yieldedEvent,
    },
  },
};

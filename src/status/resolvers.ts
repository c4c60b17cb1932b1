import { yieldedEvent } from '../errors.js';
import type { Resolvers } from '../generated/graphql.js';

/** The status page's feed: a thin resolver over {@link StatusService}. */
export const statusResolvers: Resolvers = {
  Subscription: {
    deploymentStatus: {
      subscribe: (_, __, { viewer, services, accessSignal }) => services.status.watch(viewer, accessSignal()),
      resolve: yieldedEvent,
    },
  },
};

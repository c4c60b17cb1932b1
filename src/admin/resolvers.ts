import type { Resolvers } from '../generated/graphql.js';

/** The admin API: thin resolvers over {@link AdminService} (./service.ts). */
export const adminResolvers: Resolvers = {
  Query: {
    connections: (_, { userId, limit }, { viewer, services }) => services.admin.connections(viewer, userId, limit),
  },
  Mutation: {
    disconnectUser: (_, { userId, reason }, { viewer, services }) =>
      services.admin.disconnectUser(viewer, userId, reason),
    revokeTokens: (_, { userId }, { viewer, services }) => services.admin.revokeTokens(viewer, userId),
  },
};

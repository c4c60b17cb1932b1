import { badInput } from '../errors.js';
import type { Resolvers, Role } from '../generated/graphql.js';

/** The authenticated caller, and the token its WebSocket runs under. */
export const viewerResolvers: Resolvers = {
  Query: {
    me: (_, __, { viewer }) => viewer,
  },
  Mutation: {
    refreshConnectionToken: async (_, { token }, { refreshToken }) => {
      if (!refreshToken) {
        throw badInput('refreshConnectionToken works only over a WebSocket: an HTTP request sends its own token');
      }
      return new Date((await refreshToken(token)).expiresAt).toISOString();
    },
  },
  Viewer: {
    roles: (viewer) => viewer.roles.map((role) => role.toUpperCase() as Role),
  },
};

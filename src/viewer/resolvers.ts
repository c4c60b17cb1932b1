import type { Resolvers, Role } from '../generated/graphql.js';

/** The authenticated caller. */
export const viewerResolvers: Resolvers = {
  Query: {
    me: (_, __, { viewer }) => viewer,
  },
  Viewer: {
    roles: (viewer) => viewer.roles.map((role) => role.toUpperCase() as Role),
  },
};

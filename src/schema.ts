import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { makeExecutableSchema } from '@graphql-tools/schema';
import type { GraphQLSchema } from 'graphql';
import { DateTimeResolver } from 'graphql-scalars';
import { adminResolvers } from './admin/resolvers.js';
import { campaignResolvers } from './campaigns/resolvers.js';
import { conversationResolvers } from './conversations/resolvers.js';
import type { Resolvers } from './generated/graphql.js';
import { BoundedJSONResolver } from './lib/json.js';
import { notificationResolvers } from './notifications/resolvers.js';
import { presenceResolvers } from './presence/resolvers.js';
import { sessionResolvers } from './sessions/resolvers.js';
import { statusResolvers } from './status/resolvers.js';
import { taskResolvers } from './tasks/resolvers.js';
import { viewerResolvers } from './viewer/resolvers.js';

const SCHEMA_DIR = fileURLToPath(new URL('../schema/', import.meta.url));

/** The SDL of every domain, as in `schema/`. */
export function loadTypeDefs(dir = SCHEMA_DIR): string[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.graphql'))
    .sort()
    .map((file) => readFileSync(dir + file, 'utf8'));
}

/** Every domain's resolvers; a new domain adds one line here. */
const domainResolvers: Resolvers[] = [
  viewerResolvers,
  sessionResolvers,
  conversationResolvers,
  presenceResolvers,
  taskResolvers,
  notificationResolvers,
  campaignResolvers,
  adminResolvers,
  statusResolvers,
];

/** The executable schema: SDL from `schema/`, resolvers from each domain. */
export function createSchema(): GraphQLSchema {
  return makeExecutableSchema({
    typeDefs: loadTypeDefs(),
    resolvers: [{ DateTime: DateTimeResolver, JSON: BoundedJSONResolver }, ...domainResolvers] as never,
    resolverValidationOptions: { requireResolversToMatchSchema: 'error' },
  });
}

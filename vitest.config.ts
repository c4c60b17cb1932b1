import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // Vite would pick graphql's `module` build (index.mjs) for our sources while
    // node_modules (graphql-ws, yoga, envelop) load its CJS `main`, as Node does:
    // two copies of GraphQLError, and graphql-ws's `instanceof` checks fail.
    // Resolve it like Node, so tests run what production runs.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/redis-server.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Test files run in parallel processes; each test has its own servers and Redis key prefix.
    pool: 'forks',
    reporters: ['default'],
  },
});

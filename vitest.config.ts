import { defineConfig } from 'vitest/config';

export default defineConfig({
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

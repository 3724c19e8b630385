import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Integration tests start real PostgreSQL and Redis servers; two cores cannot take many at once.
    maxWorkers: 2,
    reporters: ['default'],
  },
});

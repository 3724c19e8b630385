import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The CLI tests spawn dist/: build it once per run unless it was built from these very sources.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Integration tests start real PostgreSQL and Redis servers; two cores cannot take many at once.
    maxWorkers: 2,
    reporters: ['default'],
  },
});

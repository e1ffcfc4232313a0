import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One Temporal server, one PostgreSQL cluster and one emulator for the whole run.
    globalSetup: ['test/support/globalSetup.ts'],
    // Temporal's worker loads a native module: separate processes are the safe pool.
    pool: 'forks',
    // Most of a test's time is spent waiting on Temporal's task hops, not on a core: two files at a
    // time keep a 2-core machine busy (vitest would run one at a time there) without starving it.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 60_000,
    reporters: ['default'],
  },
});

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One PostgreSQL 16 server for the run; each file that needs it makes its own database there.
    globalSetup: ['test/support/postgres-global-setup.ts'],
    // PGlite boots a WebAssembly Postgres per file; two cores run two files at a time.
    maxWorkers: 2,
    testTimeout: 30_000,
    // The Lambdas run Node 24; the SDK's warning about this machine's Node 20 is noise in test output.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    hookTimeout: 60_000,
  },
});

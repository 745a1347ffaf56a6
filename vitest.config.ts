import { defineConfig } from 'vitest/config';
import { ENGINES, TEST_SHARED_BUFFERS } from './test/support/engines.js';
import HeavyFirstSequencer from './test/support/heavy-first-sequencer.js';

/** Suites whose SQL runs on every engine; every other file runs once, in the first engine's project. */
const SQL_SUITES = ['ingest', 'metrics', 'history', 'history-milestones', 'weekly-report', 'publish-metric', 'notify-slack', 'upgrade-0.1.0', 'users', 'any-product'];
/** Suites that start the local service over HTTP: on every engine `npm start` can use. */
const LOCAL_SERVICE_SUITES = ['local-server', 'local-loop'];
const suites = (names: string[]) => names.map((name) => `test/integration/${name}.test.ts`);

// Away from UTC, where this machine and CI live: a day boundary taken in local time instead of UTC then fails the
// suites. A half-hour offset west of UTC with summer time; the servers the tests start inherit it (PostgreSQL's too).
process.env.TZ = 'America/St_Johns';

const perProject = {
  // Files share their worker's loaded modules (aws-cdk-lib, PGlite's WebAssembly, the AWS SDK) instead of each
  // loading them again: 4 min 19 s became 3 min 15 s. No test file keeps state in a module it shares: none uses
  // vi.mock or fake timers, and each AWS SDK client mock is restored after its file.
  isolate: false,
  testTimeout: 30_000,
  hookTimeout: 60_000,
  env: {
    // The Lambdas run Node 24; the SDK's warning about this machine's Node 20 is noise in test output.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    // Servers the tests start as processes inherit it: see TEST_SHARED_BUFFERS.
    PGLITE_SHARED_BUFFERS: TEST_SHARED_BUFFERS,
  },
};

export default defineConfig({
  test: {
    // The summary on screen, and the same counts as JSON for .ci/run, which does not trust an exit code alone.
    reporters: ['default', ['json', { outputFile: 'test-output/vitest.json' }]],
    // One PostgreSQL 16 server for the run; each file that needs it makes its own database there.
    globalSetup: ['test/support/postgres-global-setup.ts'],
    // PGlite boots a WebAssembly Postgres per file; two cores run two files at a time.
    maxWorkers: 2,
    // Longest files first, so the run does not end with one worker busy and the other idle.
    sequence: { sequencer: HeavyFirstSequencer },
    ...perProject,
    // One project per engine (`npx vitest run --project postgres` runs one alone): the test files stay engine-blind.
    projects: ENGINES.map((engine, index) => ({
      test: {
        name: engine.name,
        include: index === 0 ? ['test/**/*.test.ts'] : suites([...SQL_SUITES, ...(engine.serve ? LOCAL_SERVICE_SUITES : [])]),
        provide: { engine: engine.name },
        ...perProject,
      },
    })),
  },
});

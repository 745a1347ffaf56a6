import type { Database } from '../../functions/db/port.js';
import type { Env } from '../../functions/handlers/runtime.js';

export type EngineName = 'pglite' | 'postgres' | 'data-api';

/**
 * The suites' databases hold a few thousand rows: 128 MB of shared buffers (PGlite's own default) hold them all, and
 * each start skips zeroing the 1 GB `npm start` keeps (about 3 s of WebAssembly per start, and a gigabyte of memory).
 * functions/db/pglite.ts says why npm start keeps 1 GB; test/integration/pglite-settings.test.ts checks that it does.
 * Here, beside ENGINES, because vitest.config.ts gives it to the servers tests start as processes.
 */
export const TEST_SHARED_BUFFERS = '128MB';
/** The same, for a local service a test starts in-process. */
export const TEST_PGLITE_ENV = { PGLITE_SHARED_BUFFERS: TEST_SHARED_BUFFERS } as const;

/**
 * The environment of a local service a test starts: any free port, no publisher loop (a test that wants one sets
 * PUBLISH_INTERVAL_SECONDS), the suites' shared buffers; `env` says where the data lives and adds or overrides the rest.
 */
export function localServiceEnv(env: Env = {}): Env {
  return { PORT: '0', PUBLISH_INTERVAL_SECONDS: '0', ...TEST_PGLITE_ENV, ...env };
}

/** A database engine the SQL suites run on (vitest.config.ts makes one project of each). */
export interface Engine {
  name: EngineName;
  /** A fresh, empty database of its own, not migrated; close() releases it (and drops it, on a server). */
  open(): Promise<Database>;
  /**
   * The environment under which `npm start` (startLocalService) serves from a fresh database of this engine,
   * and how to drop it afterwards. Absent for an engine `npm start` cannot use: its project then skips the
   * suites that start the local service.
   */
  serve?(): Promise<{ env: Record<string, string>; drop(): Promise<void> }>;
}

// vitest.config.ts reads this list, outside any test, so each entry loads its adapter only when opened.
export const ENGINES: readonly Engine[] = [
  {
    name: 'pglite',
    // The same empty cluster as openPglite('memory'), loaded from the run's dump instead of running initdb again.
    open: async () => (await import('./pglite-template.js')).freshPglite(),
    // A folder holding a fresh cluster, so the service starts without initdb (status-page and others serve from memory).
    async serve() {
      const [{ folderWithFreshCluster }, { rm }] = await Promise.all([import('./pglite-template.js'), import('node:fs/promises')]);
      const dir = await folderWithFreshCluster('days-since-serve-');
      return { env: { DATA_DIR: dir, ...TEST_PGLITE_ENV }, drop: () => rm(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'postgres',
    async open() {
      const [{ createTestDatabase }, { openPostgres }] = await Promise.all([import('./postgres.js'), import('../../functions/db/postgres.js')]);
      const { url, drop } = await createTestDatabase();
      const db = openPostgres(url);
      return { ...db, close: () => db.close().then(drop) };
    },
    async serve() {
      const { url, drop } = await (await import('./postgres.js')).createTestDatabase();
      return { env: { DATABASE_URL: url }, drop };
    },
  },
  {
    // The real dataApiDatabase adapter and RDSDataClient, under the Data API's documented rules, on PostgreSQL 16.
    name: 'data-api',
    async open() {
      const [{ createTestDatabase }, { openDataApiStandIn }] = await Promise.all([import('./postgres.js'), import('./data-api-stand-in.js')]);
      const { url, drop } = await createTestDatabase();
      const standIn = await openDataApiStandIn(url);
      return { ...standIn.db, close: () => standIn.close().then(drop) };
    },
  },
];

export function engineNamed(name: string): Engine {
  const engine = ENGINES.find((candidate) => candidate.name === name);
  if (!engine) throw new Error(`no engine named ${name}: ${ENGINES.map((candidate) => candidate.name).join(', ')}`);
  return engine;
}

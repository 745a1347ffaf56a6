import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from './embedded-postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** postgres://… of the PostgreSQL 16 server this test run started; each test file makes its own database on it. */
    postgresAdminUrl: string;
  }
}

/** Writes PGlite's dump of a freshly initialised, empty cluster (nothing migrated): see pglite-template.ts. */
async function writePgliteTemplate(path: string): Promise<void> {
  const { PGlite } = await import('@electric-sql/pglite');
  const pg = await PGlite.create();
  try {
    await writeFile(path, Buffer.from(await (await pg.dumpDataDir('none')).arrayBuffer()));
  } finally {
    await pg.close();
  }
}

/**
 * One PostgreSQL 16 for the whole run; each file that needs it makes its own database there. And one freshly
 * initialised PGlite cluster, dumped, that the tests' in-memory PGlites load instead of each running initdb.
 */
export default async function setup(project: TestProject) {
  const folder = await mkdtemp(join(tmpdir(), 'days-since-pglite-template-'));
  const template = join(folder, 'fresh-cluster.tar');
  const [server, written] = await Promise.allSettled([
    startEmbeddedPostgres({
      folderPrefix: 'days-since-pg-',
      password: 'days-since-tests',
      // Throwaway data: durability settings off so tests spend their time on the SQL, not on fsync.
      flags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200'],
    }),
    writePgliteTemplate(template),
  ]);
  const teardown = async () => {
    if (server.status === 'fulfilled') await server.value.stop();
    await rm(folder, { recursive: true, force: true });
  };
  if (server.status === 'rejected' || written.status === 'rejected') {
    await teardown();
    throw server.status === 'rejected' ? server.reason : (written as PromiseRejectedResult).reason;
  }
  project.provide('postgresAdminUrl', server.value.url);
  project.provide('pgliteTemplate', template);
  return teardown;
}

import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from './embedded-postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** postgres://… of the PostgreSQL 16 server this test run started; each test file makes its own database on it. */
    postgresAdminUrl: string;
  }
}

/** One PostgreSQL 16 for the whole run; each file that needs it makes its own database there. */
export default async function setup(project: TestProject) {
  const server = await startEmbeddedPostgres({
    folderPrefix: 'days-since-pg-',
    password: 'days-since-tests',
    // Throwaway data: durability settings off so tests spend their time on the SQL, not on fsync.
    flags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200'],
  });
  project.provide('postgresAdminUrl', server.url);
  return () => server.stop();
}

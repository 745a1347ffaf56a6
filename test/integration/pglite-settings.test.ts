import { execFile, execFileSync } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startLocalService, type LocalService } from '../../functions/local/service.js';
import { localServiceEnv, TEST_PGLITE_ENV } from '../support/engines.js';
import { folderWithFreshCluster } from '../support/pglite-template.js';
import { startServerProcess, type RunningServer } from '../support/processes.js';

// Issue 10: past 128 MB of data (PGlite's default shared_buffers) each batch of 500 missed ~3,000 pages, and each new
// WAL segment was zero-filled through the in-memory file system, and after each checkpoint whole pages filled the WAL.
// `npm start` and the bench open PGlite the same way.

const running: LocalService[] = [];
const folders: string[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((service) => service.close()));
  await Promise.all(folders.splice(0).map((folder) => rm(folder, { recursive: true, force: true })));
});

// npm start's own shared buffers, not the suites' smaller ones: PGLITE_SHARED_BUFFERS unset unless a test sets it.
async function settingsOf(dataDir: string, env: Record<string, string> = {}) {
  const service = await startLocalService(localServiceEnv({ DATA_DIR: dataDir, PGLITE_SHARED_BUFFERS: undefined, ...env }), { print: () => {} });
  running.push(service);
  const rows = await service.db.query<{ name: string; setting: string; unit: string | null }>(
    `SELECT name, setting, unit FROM pg_settings
     WHERE name IN ('full_page_writes', 'shared_buffers', 'wal_init_zero', 'fsync', 'wal_sync_method') ORDER BY name`,
  );
  return Object.fromEntries(rows.map((row) => [row.name, row.unit ? `${row.setting} × ${row.unit}` : row.setting]));
}

async function folder(): Promise<string> {
  const dir = await folderWithFreshCluster('days-since-settings-');
  folders.push(dir);
  return dir;
}

describe("the local server's PGlite settings (issues 10 and 21)", () => {
  // A folder that already holds a fresh cluster: the settings are the start's, and initdb's seconds are saved.
  it('holds 1 GB of pages in memory and does not zero-fill new WAL segments; in a folder, waits for the disk and logs whole pages', async () => {
    expect(await settingsOf(await folder())).toEqual({
      fsync: 'on',
      full_page_writes: 'on',
      // 131,072 pages of 8 kB: 1 GB.
      shared_buffers: '131072 × 8kB',
      wal_init_zero: 'off',
      wal_sync_method: 'fsync',
    });
  }, 120_000);

  it('in a folder with PGLITE_FSYNC=off, and in memory, neither waits for a disk nor logs whole pages', async () => {
    const fast = { fsync: 'off', full_page_writes: 'off', wal_init_zero: 'off' };
    expect(await settingsOf(await folder(), { PGLITE_FSYNC: 'off', ...TEST_PGLITE_ENV })).toMatchObject(fast);
    expect(await settingsOf('memory', { PGLITE_SHARED_BUFFERS: '256MB' })).toMatchObject({ ...fast, shared_buffers: '32768 × 8kB' });
  }, 120_000);

  it('refuses a PGLITE_FSYNC that is not on or off, naming it', async () => {
    await expect(settingsOf('memory', { PGLITE_FSYNC: 'sometimes' })).rejects.toThrow('PGLITE_FSYNC must be on or off, got "sometimes"');
  });

  it('refuses a size PostgreSQL would not read, naming the variable, before opening anything', async () => {
    await expect(settingsOf('memory', { PGLITE_SHARED_BUFFERS: 'lots' })).rejects.toThrow(
      'PGLITE_SHARED_BUFFERS must be a size such as 256MB or 1GB, got "lots"',
    );
  });
});

/** Whether strace can attach to a process of ours here (it needs ptrace). */
function straceWorks(): boolean {
  try {
    execFileSync('strace', ['-f', '-e', 'trace=none', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const canTrace = straceWorks();
if (!canTrace) console.warn('pglite-settings.test.ts: the fsync(2) test is skipped: strace is missing or may not trace here');

describe.runIf(canTrace)('a 202 from PGlite in a folder (issue 21)', () => {
  let server: RunningServer | undefined;
  afterEach(async () => {
    if (server && server.child.exitCode === null) server.child.kill('SIGKILL');
    await server?.exit;
  });

  it("comes after fsync(2) of the WAL: what was acknowledged is on the disk, not only in the operating system's cache", async () => {
    const dir = await folder();
    server = startServerProcess('node', { DATA_DIR: dir });
    const url = await server.ready;
    const log = join(tmpdir(), `days-since-fsync-${process.pid}.strace`);
    // -f with -p follows every thread of the server, PGlite's among them; -y names the file behind each descriptor.
    const tracer = execFile('strace', ['-f', '-y', '-e', 'trace=fsync,fdatasync', '-p', String(server.child.pid), '-o', log]);
    const stopped = new Promise((resolve) => tracer.once('exit', resolve));
    try {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const response = await fetch(`${url}/metrics/interaction`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ event_id: 'on-disk', user_id: '9b2f1c3e-8a4d-4e5f-9a6b-7c8d9e0f1a2b', interaction_type: 'login' }),
      });
      expect(response.status).toBe(202);
    } finally {
      tracer.kill('SIGINT');
      await stopped;
    }
    const traced = await readFile(log, 'utf8');
    await rm(log, { force: true });
    expect(traced).toMatch(new RegExp(`fsync\\(\\d+<${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/pg_wal/[0-9A-F]{24}>\\) = 0`));
  }, 120_000);
});

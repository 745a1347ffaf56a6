import { rm } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { startLocalService, type LocalService } from '../../functions/local/service.js';
import { folderWithFreshCluster } from '../support/pglite-template.js';

// Issue 10: past 128 MB of data (PGlite's default shared_buffers) each batch of 500 missed ~3,000 pages, and each new
// WAL segment was zero-filled through the in-memory file system, and after each checkpoint whole pages filled the WAL.
// `npm start` and the bench open PGlite the same way.

const running: LocalService[] = [];
const folders: string[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((service) => service.close()));
  await Promise.all(folders.splice(0).map((folder) => rm(folder, { recursive: true, force: true })));
});

async function settingsOf(dataDir: string, env: Record<string, string> = {}) {
  const service = await startLocalService({ PORT: '0', DATA_DIR: dataDir, PUBLISH_INTERVAL_SECONDS: '0', ...env }, { print: () => {} });
  running.push(service);
  return service.db.query<{ name: string; setting: string; unit: string | null }>(
    `SELECT name, setting, unit FROM pg_settings WHERE name IN ('full_page_writes', 'shared_buffers', 'wal_init_zero') ORDER BY name`,
  );
}

describe("the local server's PGlite settings (issue 10)", () => {
  // A folder that already holds a fresh cluster: the settings are the start's, and initdb's seconds are saved.
  it('holds 1 GB of pages in memory, does not zero-fill new WAL segments nor log whole pages, by default', async () => {
    const folder = await folderWithFreshCluster('days-since-settings-');
    folders.push(folder);
    expect(await settingsOf(folder)).toEqual([
      { name: 'full_page_writes', setting: 'off', unit: null },
      // 131,072 pages of 8 kB: 1 GB.
      { name: 'shared_buffers', setting: '131072', unit: '8kB' },
      { name: 'wal_init_zero', setting: 'off', unit: null },
    ]);
  }, 120_000);

  it('keeps as much as PGLITE_SHARED_BUFFERS says, for a smaller machine, and the same settings in memory', async () => {
    expect(await settingsOf('memory', { PGLITE_SHARED_BUFFERS: '256MB' })).toEqual([
      { name: 'full_page_writes', setting: 'off', unit: null },
      { name: 'shared_buffers', setting: '32768', unit: '8kB' },
      { name: 'wal_init_zero', setting: 'off', unit: null },
    ]);
  }, 120_000);

  it('refuses a size PostgreSQL would not read, naming the variable, before opening anything', async () => {
    await expect(settingsOf('memory', { PGLITE_SHARED_BUFFERS: 'lots' })).rejects.toThrow(
      'PGLITE_SHARED_BUFFERS must be a size such as 256MB or 1GB, got "lots"',
    );
  });
});

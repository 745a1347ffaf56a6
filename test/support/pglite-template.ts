import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { inject } from 'vitest';
import { openPglite, type PgliteDatabase } from '../../functions/db/pglite.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A file holding PGlite's dumpDataDir of a freshly initialised, empty cluster, made once per test run
     * (postgres-global-setup.ts). */
    pgliteTemplate: string;
  }
}

let template: Promise<Blob> | undefined;

/**
 * The suites' databases hold a few thousand rows: 128 MB of shared buffers (PGlite's own default) hold them all, and
 * each start skips zeroing the 1 GB `npm start` keeps (about 3 s of WebAssembly per start, and a gigabyte of memory).
 * functions/db/pglite.ts says why npm start keeps 1 GB; test/integration/pglite-settings.test.ts checks that it does.
 */
export const TEST_SHARED_BUFFERS = '128MB';
/** The same, for a local service the test starts (in-process, or as a process: vitest.config.ts sets it there). */
export const TEST_PGLITE_ENV = { PGLITE_SHARED_BUFFERS: TEST_SHARED_BUFFERS } as const;

/**
 * A fresh, empty PGlite in memory, as openPglite('memory') gives, loaded from the run's template instead of
 * running initdb again: the same empty cluster, in a fraction of the time. Nothing is migrated.
 */
export async function freshPglite(): Promise<PgliteDatabase> {
  template ??= readFile(inject('pgliteTemplate')).then((bytes) => new Blob([bytes]));
  return openPglite('memory', { loadDataDir: await template, sharedBuffers: TEST_SHARED_BUFFERS });
}

/**
 * A new folder holding that same fresh, empty cluster, for DATA_DIR: as if a server had run initdb there and
 * stopped before migrating. Saves each server started on it the initdb; the caller removes the folder.
 */
export async function folderWithFreshCluster(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  // The dump's members are absolute (/base, /global, …): tar strips the leading slash, so they land in dir.
  await promisify(execFile)('tar', ['-xf', inject('pgliteTemplate'), '-C', dir]);
  return dir;
}

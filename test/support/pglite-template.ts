import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { inject } from 'vitest';
import { openPglite, type PgliteDatabase } from '../../functions/db/pglite.js';
import { TEST_SHARED_BUFFERS } from './engines.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A file holding PGlite's dumpDataDir of a freshly initialised, empty cluster, made once per test run
     * (postgres-global-setup.ts). */
    pgliteTemplate: string;
  }
}

let template: Promise<Blob> | undefined;

/**
 * A fresh, empty PGlite in memory, as openPglite('memory') gives, loaded from the run's template instead of
 * running initdb again: the same empty cluster, in a fraction of the time. Nothing is migrated.
 */
export async function freshPglite({ thread = false } = {}): Promise<PgliteDatabase> {
  template ??= readFile(inject('pgliteTemplate')).then((bytes) => new Blob([bytes]));
  return openPglite('memory', { loadDataDir: await template, sharedBuffers: TEST_SHARED_BUFFERS, thread });
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

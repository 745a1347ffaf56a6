import { readFile } from 'node:fs/promises';
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
 * A fresh, empty PGlite in memory, as openPglite('memory') gives, loaded from the run's template instead of
 * running initdb again: the same empty cluster, in a fraction of the time. Nothing is migrated.
 */
export async function freshPglite(): Promise<PgliteDatabase> {
  template ??= readFile(inject('pgliteTemplate')).then((bytes) => new Blob([bytes]));
  return openPglite('memory', { loadDataDir: await template });
}

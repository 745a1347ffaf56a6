import type { PGliteOptions } from '@electric-sql/pglite';
import { NodeFS } from '@electric-sql/pglite/nodefs';

/** NODEFS with an fsync that calls fsync(2): see pglite-files.mjs. */
export declare class DurableNodeFS extends NodeFS {}

/** Where and how PGlite opens: see pglite-files.mjs. */
export interface OpenOptions {
  dataDir?: string | undefined;
  durable: boolean;
  loadDataDir?: Blob | undefined;
  startParams: string[];
}

export declare function pgliteOptions(options: OpenOptions): PGliteOptions;

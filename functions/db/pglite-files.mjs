// Where PGlite keeps its files: a folder, with an fsync that reaches the disk when asked, or memory. Plain JavaScript:
// the PGlite thread (pglite-thread.mjs) loads it too, and a worker thread does not inherit tsx's loader on Node 20.
import { fsyncSync } from 'node:fs';
import { NodeFS } from '@electric-sql/pglite/nodefs';

/**
 * Emscripten's NODEFS, which PGlite uses for a folder, has no fsync: PostgreSQL's fsync() of a WAL or data file
 * returns success and syncs nothing, and its fdatasync() is a no-op in Emscripten's syscalls whatever the file system
 * (@electric-sql/pglite 0.5, dist/pglite.js: `_fd_sync` calls `stream_ops.fsync` when there is one; NODEFS gives none;
 * `__syscall_fdatasync` returns 0). This gives NODEFS an fsync that calls fsync(2) on the real file, so with
 * `fsync=on` and `wal_sync_method=fsync` (DURABLE_SETTINGS in pglite-settings.ts) a commit returns only once its WAL
 * is on the disk, and a checkpoint only once the pages it wrote are.
 */
export class DurableNodeFS extends NodeFS {
  async init(pg, opts) {
    const { emscriptenOpts } = await super.init(pg, opts);
    const giveNodefsAnFsync = (mod) => {
      const nodefs = mod.NODEFS;
      // Errors become the errno PostgreSQL sees (EIO, ENOSPC...), as NODEFS's own calls do.
      nodefs.stream_ops.fsync = (stream) => nodefs.tryFSOperation(() => fsyncSync(stream.nfd));
    };
    return { emscriptenOpts: { ...emscriptenOpts, preRun: [...(emscriptenOpts.preRun ?? []), giveNodefsAnFsync] } };
  }
}

/**
 * PGlite.create's options: `dataDir` a folder (through DurableNodeFS when `durable`), or undefined for memory;
 * `loadDataDir` a dumped cluster to start from; `startParams` PostgreSQL's command line.
 */
export function pgliteOptions({ dataDir, durable, loadDataDir, startParams }) {
  return { ...(durable && dataDir ? { fs: new DurableNodeFS(dataDir) } : { dataDir }), loadDataDir, startParams };
}

// PGlite's PostgreSQL settings, apart from PGlite itself, so that reading them (`npm start`'s defaults) does not load
// the WebAssembly build before the server's port is open.

/**
 * PostgreSQL settings every PGlite here starts with: the local server, the bench and the tests (which ask for 128 MB of
 * shared buffers instead: TEST_SHARED_BUFFERS in test/support/engines.ts).
 *
 * - shared_buffers: PGlite's default, 128 MB, is a fifth of what the backfill bench touches at 1,000,000 stored
 *   (its random-key indexes alone are about 390 MB). Past 128 MB every batch of 500 missed about 3,000 pages and
 *   wrote back as many dirty ones (pg_stat_io), each a copy through Emscripten's file system in JavaScript and a
 *   data checksum: 2,000 misses at 550,000 stored, 3,000 at 1,000,000, while the pages the batch touched stayed at
 *   about 40,000. That is why a batch cost more as history grew although EXPLAIN's buffer counts stayed flat.
 *   1 GB keeps it all in memory to 1,000,000 (misses fell to a few dozen a batch); the price is that much memory
 *   from the start (PGlite zeroes it: about +1 GB resident and a few seconds more to open).
 * - wal_init_zero: each new 16 MB WAL segment was first written full of zeros, 8 KB at a time; in memory that grew
 *   the file by an eighth per step, copying it each time: 8 % of the server's CPU in the backfill bench, in pauses
 *   of a few hundred milliseconds. PGlite never checkpoints on its own, so before the statistics keeper checkpointed
 *   it made a new segment every ~8,000 interactions. Zero-filling only helps on copy-on-write file systems.
 * - full_page_writes: after each checkpoint (the statistics keeper's) the first change to a page logs the whole 8 kB
 *   page. At 1,000,000 stored the backfill's changes land on pages all over its indexes, so with a checkpoint every
 *   64 MB of WAL, WAL rose to about 20 kB per interaction and brought a checkpoint every ~3,300 interactions: 301 in
 *   one run to 1,000,000, against 27 with it off. Whole pages only repair pages torn by an operating-system crash:
 *   in memory there is nothing to repair; in a folder DURABLE_SETTINGS turns them back on.
 */
export const PGLITE_SETTINGS: Readonly<Record<string, string>> = {
  shared_buffers: '1GB',
  wal_init_zero: 'off',
  full_page_writes: 'off',
};

/**
 * On top of PGLITE_SETTINGS for a folder: a 202 then survives an operating-system crash or a power cut, not only a
 * killed process (PGlite's own defaults give only that: fsync off, and Emscripten's file system syncs nothing).
 *
 * - fsync on, through DurableNodeFS (pglite-files.mjs), which gives Emscripten's NODEFS the fsync it lacks.
 * - wal_sync_method fsync: Linux's default, fdatasync, is a no-op in Emscripten whatever the file system.
 * - full_page_writes on: with fsync on, a crash in the middle of writing an 8 kB page (ext4 writes 4 kB blocks) can
 *   leave half of it new; only the whole page logged since the last checkpoint repairs it. Off, such a page fails its
 *   checksum and the table is unreadable.
 */
export const DURABLE_SETTINGS: Readonly<Record<string, string>> = {
  fsync: 'on',
  wal_sync_method: 'fsync',
  full_page_writes: 'on',
};

import { Worker } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import { toPositional } from './named-params.js';
import { statisticsKeeper, type StatisticsKeeper } from './pglite-statistics.js';
import type { Database, Row, SqlParams } from './port.js';

/** What the adapter needs of PGlite, on this thread or on its own (functions/db/pglite-thread.mjs). */
interface Queryable {
  query<T>(text: string, values?: unknown[]): Promise<{ rows: T[] }>;
}
export interface PgliteConnection extends Queryable {
  exec(sql: string): Promise<unknown>;
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

function adapter(pg: Queryable, transaction: Database['transaction'], close: () => Promise<void>, ran: () => void = () => {}): Database {
  return {
    async query<T = Row>(sql: string, params: SqlParams = {}) {
      const { text, values } = toPositional(sql, params);
      const { rows } = await pg.query<T>(text, values);
      ran();
      return rows;
    },
    transaction,
    close,
  };
}

/** The local database: PGlite, plus the autoanalyze it lacks. */
export interface PgliteDatabase extends Database {
  statistics: StatisticsKeeper;
}

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
 *   it made a new segment every ~8,000 interactions. Zero-filling only helps on copy-on-write file systems, and PGlite runs with fsync off anyway.
 * - full_page_writes: after each checkpoint (the statistics keeper's, every 64 MB of WAL) the first change to a page
 *   logged the whole 8 kB page. At 1,000,000 stored the backfill's changes land on pages all over its indexes, so
 *   WAL rose to about 20 kB per interaction and brought a checkpoint every ~3,300 interactions: 301 in one run to
 *   1,000,000, against 27 with it off. Whole pages only repair pages torn by an operating-system crash, which fsync
 *   off (PGlite's own default) already leaves unprotected.
 */
export const PGLITE_SETTINGS: Readonly<Record<string, string>> = {
  shared_buffers: '1GB',
  wal_init_zero: 'off',
  full_page_writes: 'off',
};

/**
 * Embedded PostgreSQL for the local run and the tests. `dataDir` is a folder to persist in,
 * or `memory` for a throwaway database. `loadDataDir` (PGlite's dumpDataDir) starts from that cluster instead of
 * running initdb, which costs seconds of WebAssembly each time: the tests boot one fresh cluster many times.
 */
export interface PgliteOptions {
  /** A cluster saved with PGlite's dumpDataDir to start from instead of running initdb. */
  loadDataDir?: Blob;
  /** PostgreSQL's shared_buffers: how much of the database PGlite keeps in memory (default PGLITE_SETTINGS'). */
  sharedBuffers?: string;
  /**
   * Runs PGlite on a worker thread of its own (`npm start`): a batch's statement then never holds the event loop that
   * answers /healthz and the headline, and the server's own work (HTTP, validation) runs beside it on the second core.
   */
  thread?: boolean;
}

export async function openPglite(dataDir = 'memory', { loadDataDir, sharedBuffers, thread = false }: PgliteOptions = {}): Promise<PgliteDatabase> {
  const settings = Object.entries({ ...PGLITE_SETTINGS, ...(sharedBuffers ? { shared_buffers: sharedBuffers } : {}) }).flatMap(
    ([name, value]) => ['-c', `${name}=${value}`],
  );
  const options = {
    dataDir: dataDir === 'memory' ? undefined : dataDir,
    loadDataDir,
    // startParams replaces PGlite's own defaults (single-user mode, no parallel workers...): keep them, add ours.
    startParams: [...PGlite.defaultStartParams, ...settings],
  };
  const pg: PgliteConnection = thread ? await openPgliteThread(options) : await PGlite.create(options);
  // Same zone as Aurora's default, so zone-less timestamps mean UTC on both adapters.
  await pg.exec("SET TIME ZONE 'UTC'");
  const statistics = statisticsKeeper(pg);
  const nested = (): never => {
    throw new Error('nested transactions are not supported');
  };
  const self = adapter(
    pg,
    async (work) => {
      const result = await pg.transaction((tx) => work(adapter(tx, nested, async () => {})));
      statistics.noteStatement();
      return result;
    },
    async () => {
      await statistics.stop();
      await pg.close();
    },
    () => statistics.noteStatement(),
  );
  return { ...self, statistics };
}

/** A database error as the thread describes it (pglite-thread.mjs): its class, SQLSTATE and message, no statement. */
type ErrorFields = Record<string, string> & { message: string };
const asError = (fields: ErrorFields) => Object.assign(new Error(fields.message), fields);

/** PGlite on its own worker thread, behind the same calls as PGlite itself. */
async function openPgliteThread(workerData: { dataDir?: string; loadDataDir?: Blob; startParams: string[] }): Promise<PgliteConnection> {
  const worker = new Worker(new URL('./pglite-thread.mjs', import.meta.url), { workerData });
  const waiting = new Map<number, { resolve(rows: unknown[]): void; reject(error: Error): void }>();
  let nextId = 0;
  let stopped: Error | null = null;
  const stop = (error: Error) => {
    stopped ??= error;
    for (const { reject } of waiting.values()) reject(stopped);
    waiting.clear();
  };
  await new Promise<void>((resolve, reject) => {
    worker.once('message', (started: { ready: boolean; error?: ErrorFields }) => (started.ready ? resolve() : reject(asError(started.error!))));
    worker.once('error', reject);
  }).catch(async (error: unknown) => {
    await worker.terminate();
    throw error;
  });
  worker.on('message', ({ id, rows, error }: { id: number; rows?: unknown[]; error?: ErrorFields }) => {
    const caller = waiting.get(id);
    waiting.delete(id);
    if (error) caller?.reject(asError(error));
    else caller?.resolve(rows!);
  });
  worker.on('error', stop);
  worker.on('exit', (code) => stop(new Error(`the embedded database's thread stopped (exit code ${code})`)));
  const send = <T>(op: 'query' | 'exec' | 'close', text = '', values: unknown[] = []) =>
    new Promise<T[]>((resolve, reject) => {
      if (stopped) return reject(stopped);
      const id = nextId++;
      waiting.set(id, { resolve: resolve as (rows: unknown[]) => void, reject });
      worker.postMessage({ id, op, text, values });
    });
  // Statements queue on the thread in the order sent (PGlite runs one at a time), so the next is already waiting
  // there when one ends. A transaction takes the connection for itself: nothing is sent while it is open.
  let open: Promise<unknown> = Promise.resolve();
  const query = async <T>(text: string, values?: unknown[]) => ({ rows: await send<T>('query', text, values) });
  return {
    query: (text, values) => open.then(() => query(text, values)),
    exec: (sql) => open.then(() => send('exec', sql)),
    transaction(work) {
      const result = open.then(async () => {
        await send('exec', 'BEGIN');
        try {
          const value = await work({ query });
          await send('exec', 'COMMIT');
          return value;
        } catch (error) {
          // The thread may be gone: the transaction then is too.
          await send('exec', 'ROLLBACK').catch(() => {});
          throw error;
        }
      });
      open = result.catch(() => {});
      return result;
    },
    close: () => open.then(() => send('close')).then(() => worker.terminate()).then(() => {}),
  };
}

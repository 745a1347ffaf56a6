import { Worker } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import { pgliteOptions, type OpenOptions } from './pglite-files.mjs';
import { toPositional } from './named-params.js';
import { asOutage, describeOutage } from './outage.js';
import { DURABLE_SETTINGS, PGLITE_SETTINGS } from './pglite-settings.js';
import { statisticsKeeper, type StatisticsKeeper } from './pglite-statistics.js';
import { DatabaseUnavailableError, type Database, type Row, type SqlParams } from './port.js';

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
      const { rows } = await asOutage(() => pg.query<T>(text, values));
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
  /** On a thread: told if the thread stops on its own, after which every statement is refused (see openPgliteThread). */
  onLost?: (error: DatabaseUnavailableError) => void;
  /**
   * In a folder: commits and checkpoints wait for the disk (DURABLE_SETTINGS), so what was acknowledged survives an
   * operating-system crash, not only a killed process. Default: on for a folder; ignored in memory.
   */
  durable?: boolean;
}

export async function openPglite(
  dataDir = 'memory',
  { loadDataDir, sharedBuffers, thread = false, onLost, durable = true }: PgliteOptions = {},
): Promise<PgliteDatabase> {
  const onDisk = dataDir !== 'memory';
  const settings = Object.entries({
    ...PGLITE_SETTINGS,
    ...(onDisk && durable ? DURABLE_SETTINGS : {}),
    // Same zone as Aurora's default, so zone-less timestamps mean UTC on both adapters; a setting, so a reopen keeps it.
    TimeZone: 'UTC',
    ...(sharedBuffers ? { shared_buffers: sharedBuffers } : {}),
  }).flatMap(([name, value]) => ['-c', `${name}=${value}`]);
  const options = {
    dataDir: onDisk ? dataDir : undefined,
    durable: onDisk && durable,
    loadDataDir,
    // startParams replaces PGlite's own defaults (single-user mode, no parallel workers...): keep them, add ours.
    startParams: [...PGlite.defaultStartParams, ...settings],
  };
  const pg: PgliteConnection = thread ? await openPgliteThread({ ...options, onLost }) : await PGlite.create(pgliteOptions(options));
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
    // Together: a pass of the keeper waiting on a database that no longer answers must not keep it from closing.
    async () => {
      await Promise.all([statistics.stop(), pg.close()]);
    },
    () => statistics.noteStatement(),
  );
  return { ...self, statistics };
}

/** A database error as the thread describes it (pglite-thread.mjs): its class, SQLSTATE and message, no statement. */
type ErrorFields = Record<string, string> & { message: string };
const asError = (fields: ErrorFields) => Object.assign(new Error(fields.message), fields);

/** Between two attempts to open PGlite again after a PANIC: a full disk may take a while to be given space. */
const REOPEN_DELAYS_MS = [250, 500, 1_000, 2_000, 5_000];
/** How long close() waits for PGlite to close its files before it stops the thread anyway. */
const CLOSE_GRACE_MS = 10_000;

interface ThreadOptions extends OpenOptions {
  /** Called once if the thread stops on its own (it crashed, or PGlite cannot go on and has nothing on disk to reopen). */
  onLost?: (error: DatabaseUnavailableError) => void;
}

interface Thread {
  worker: Worker;
  waiting: Map<number, { resolve(rows: unknown[]): void; reject(error: Error): void }>;
}

/** Starts a worker running PGlite (pglite-thread.mjs) and waits until it has opened the database. */
async function startThread(workerData: Omit<ThreadOptions, 'onLost'>): Promise<Thread> {
  const worker = new Worker(new URL('./pglite-thread.mjs', import.meta.url), { workerData });
  let onMessage = (_started: { ready: boolean; error?: ErrorFields }) => {};
  let onError = (_error: Error) => {};
  let onExit = (_code: number) => {};
  await new Promise<void>((resolve, reject) => {
    onMessage = (started) => (started.ready ? resolve() : reject(asError(started.error!)));
    onError = reject;
    onExit = (code) => reject(new Error(`the embedded database's thread stopped while opening (exit code ${code})`));
    worker.once('message', onMessage).once('error', onError).once('exit', onExit);
  }).catch(async (error: unknown) => {
    await worker.terminate();
    throw error;
  });
  // Only these: node's own listeners on a worker keep its messages flowing.
  worker.off('message', onMessage).off('error', onError).off('exit', onExit);
  return { worker, waiting: new Map() };
}

/**
 * PGlite on its own worker thread, behind the same calls as PGlite itself. After a PANIC it does what PostgreSQL's
 * postmaster does: stops that backend and starts another on the same folder, which replays the WAL (crash recovery);
 * meanwhile every statement is refused at once with DatabaseUnavailableError. A thread that dies on its own is
 * reported to `onLost`: the server must then stop, so that its supervisor starts it again.
 */
async function openPgliteThread({ onLost = () => {}, ...workerData }: ThreadOptions): Promise<PgliteConnection> {
  let thread: Thread | null = await startThread(workerData);
  let nextId = 0;
  /** Why statements are refused now: a restart under way, the thread lost, or the database closed. */
  let down: DatabaseUnavailableError | null = null;
  let closing = false;

  const refuseWaiting = (from: Thread, error: Error) => {
    for (const { reject } of from.waiting.values()) reject(error);
    from.waiting.clear();
  };

  function attach(current: Thread) {
    // `fatal`: PGlite cannot go on after this error (pglite-thread.mjs says which).
    current.worker.on('message', ({ id, rows, error, fatal }: { id: number; rows?: unknown[]; error?: ErrorFields; fatal?: boolean }) => {
      const caller = current.waiting.get(id);
      current.waiting.delete(id);
      if (!error) return caller?.resolve(rows!);
      if (!fatal) return caller?.reject(asError(error));
      const cause = describeOutage(asError(error));
      const what = `the embedded database stopped on an error it cannot continue from (${error.severity ?? error.name}${cause ? `: ${cause.what}` : ''})`;
      const outage = new DatabaseUnavailableError(cause?.retryAfterSeconds ?? 5, `${what} and is restarting; retry shortly`, error.code ?? error.name);
      caller?.reject(outage);
      void restart(current, outage, what);
    });
    current.worker.on('error', () => {});
    current.worker.on('exit', (code) => {
      if (thread !== current || closing) return;
      thread = null;
      down = new DatabaseUnavailableError(5, `the embedded database's thread stopped (exit code ${code}): the server is stopping`, 'thread_exit');
      refuseWaiting(current, down);
      onLost(down);
    });
  }
  attach(thread);

  async function restart(broken: Thread, outage: DatabaseUnavailableError, what: string) {
    if (thread !== broken) return;
    thread = null;
    down = outage;
    refuseWaiting(broken, outage);
    await broken.worker.terminate();
    // In memory there is nothing to reopen: what the thread held is gone with it.
    if (!workerData.dataDir) {
      down = new DatabaseUnavailableError(5, `${what}; in memory nothing survives it: the server is stopping`, outage.code);
      return onLost(down);
    }
    for (let attempt = 0; !closing; attempt++) {
      try {
        const reopened = await startThread(workerData);
        if (closing) return void (await reopened.worker.terminate());
        attach(reopened);
        thread = reopened;
        down = null;
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, REOPEN_DELAYS_MS[Math.min(attempt, REOPEN_DELAYS_MS.length - 1)]));
      }
    }
  }

  const send = <T>(op: 'query' | 'exec' | 'close', text = '', values: unknown[] = []) =>
    new Promise<T[]>((resolve, reject) => {
      if (!thread) return reject(down ?? new DatabaseUnavailableError(5, "the embedded database's thread stopped", 'thread_exit'));
      const id = nextId++;
      thread.waiting.set(id, { resolve: resolve as (rows: unknown[]) => void, reject });
      thread.worker.postMessage({ id, op, text, values });
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
    async close() {
      closing = true;
      const current = thread;
      down = new DatabaseUnavailableError(5, "the embedded database's thread stopped: the server is stopping", 'closed');
      if (!current) return;
      // PGlite writes what it holds and closes its files; one that does not answer (broken, or spinning) is stopped anyway.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        open.then(() => new Promise((resolve, reject) => {
          const id = nextId++;
          current.waiting.set(id, { resolve, reject });
          current.worker.postMessage({ id, op: 'close', text: '', values: [] });
        })).catch(() => {}),
        new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS))),
      ]);
      clearTimeout(timer);
      thread = null;
      refuseWaiting(current, down);
      await current.worker.terminate();
    },
  };
}

import { outageOf, sqlStateOf } from '../db/outage.js';
import { DatabaseUnavailableError, type Database } from '../db/port.js';

export interface ReadinessSettings {
  /** A statement that succeeded this recently, with no outage since, answers for the database without a probe. */
  freshMs: number;
  /**
   * A statement running for less than this shows a busy database, not a stalled one (PGlite runs one statement at a
   * time: a probe would wait behind it). Longer, and the database is probed like an idle one. Its longest statements
   * here are a checkpoint of a gigabyte of buffers and a batch at a million stored: well under this.
   */
  busyMs: number;
  /** How long the probe waits for the database: a stalled one is not ready. */
  timeoutMs: number;
}

export const DEFAULT_READINESS: ReadinessSettings = { freshMs: 2_000, busyMs: 10_000, timeoutMs: 1_000 };

export interface WatchedDatabase {
  /** The database, each statement's outcome noted. */
  db: Database;
  /** Null while the database answers; else why it does not (an outage, or no answer within the timeout). */
  check(): Promise<DatabaseUnavailableError | null>;
}

/**
 * The database with its answers watched, for /healthz: statements that keep succeeding, or one running for less than
 * `busyMs`, already show it answers, so under load the check costs nothing (PGlite runs one statement at a time, and a
 * probe would queue behind the batches). A statement that failed for want of the database makes it not ready for the
 * Retry-After it gave. Otherwise, when none has succeeded lately, one `SELECT 1` at a time probes it, for at most
 * `timeoutMs`.
 */
export function watchDatabase(db: Database, { freshMs, busyMs, timeoutMs }: ReadinessSettings = DEFAULT_READINESS): WatchedDatabase {
  let answeredAt = -Infinity;
  let failedAt = -Infinity;
  let lastOutage: DatabaseUnavailableError | null = null;
  /** When each statement now running was sent. */
  const running = new Set<{ since: number }>();
  let probing: Promise<DatabaseUnavailableError | null> | null = null;
  const noted = async <T>(work: () => Promise<T>): Promise<T> => {
    const statement = { since: performance.now() };
    running.add(statement);
    try {
      const result = await work();
      answeredAt = performance.now();
      return result;
    } catch (error) {
      const outage = outageOf(error);
      if (outage) [failedAt, lastOutage] = [performance.now(), outage];
      throw error;
    } finally {
      running.delete(statement);
    }
  };
  const busy = () => [...running].some((statement) => performance.now() - statement.since < busyMs);

  async function probe(): Promise<DatabaseUnavailableError | null> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<DatabaseUnavailableError>((resolve) => {
      timer = setTimeout(
        () => resolve(new DatabaseUnavailableError(5, `the database did not answer a health check within ${timeoutMs} ms; retry shortly`, 'probe_timeout')),
        timeoutMs,
      );
    });
    const answered = noted(() => db.query('SELECT 1 AS ok')).then(
      () => null,
      (error: unknown) => outageOf(error) ?? new DatabaseUnavailableError(5, `the database failed a health check (${sqlStateOf(error) ?? 'no SQLSTATE'})`, sqlStateOf(error)),
    );
    try {
      return await Promise.race([answered, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    db: {
      ...db,
      query: (sql, params) => noted(() => db.query(sql, params)),
      transaction: (work) => noted(() => db.transaction(work)),
    },
    check() {
      // A statement just failed for want of the database (a full disk fails writes while SELECT 1 still answers): not
      // ready for as long as that failure told its client to wait; then the probe decides again.
      if (lastOutage && failedAt > answeredAt && performance.now() - failedAt < lastOutage.retryAfterSeconds * 1000) return Promise.resolve(lastOutage);
      const noOutageSince = failedAt < answeredAt || (failedAt === -Infinity && answeredAt === -Infinity);
      if (noOutageSince && (performance.now() - answeredAt < freshMs || busy())) return Promise.resolve(null);
      probing ??= probe().finally(() => (probing = null));
      return probing;
    },
  };
}

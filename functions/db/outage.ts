import { DatabaseUnavailableError } from './port.js';

/** What went wrong, in a client's words, and how long a retry should wait. */
interface Outage {
  what: string;
  retryAfterSeconds: number;
}

/**
 * SQLSTATEs that mean the server cannot serve now, not that the statement is wrong (PostgreSQL's Appendix A,
 * "PostgreSQL Error Codes"): an exact code first, then its two-character class.
 */
const BY_SQLSTATE: Record<string, Outage> = {
  '57P01': { what: 'the database server is shutting down (admin_shutdown)', retryAfterSeconds: 5 },
  '57P02': { what: 'the database server crashed and is restarting (crash_shutdown)', retryAfterSeconds: 5 },
  '57P03': { what: 'the database server is starting or stopping and takes no connections now (cannot_connect_now)', retryAfterSeconds: 5 },
  '57014': { what: 'the database did not answer in time: the statement was cancelled (statement_timeout)', retryAfterSeconds: 5 },
  '55P03': { what: 'the database did not answer in time: a lock was not granted (lock_not_available)', retryAfterSeconds: 5 },
  '53100': { what: "the database's disk is full (disk_full)", retryAfterSeconds: 30 },
  '53200': { what: 'the database is out of memory (out_of_memory)', retryAfterSeconds: 10 },
  '53300': { what: 'the database has no connection to spare (too_many_connections)', retryAfterSeconds: 5 },
  '40001': { what: 'the database rolled the statement back to resolve a conflict (serialization_failure)', retryAfterSeconds: 1 },
  '40P01': { what: 'the database rolled the statement back to resolve a conflict (deadlock_detected)', retryAfterSeconds: 1 },
  '08': { what: 'the connection to the database failed (connection_exception)', retryAfterSeconds: 5 },
  '53': { what: 'the database ran out of a resource (insufficient_resources)', retryAfterSeconds: 10 },
  '58': { what: 'the database could not read or write its files (system_error)', retryAfterSeconds: 30 },
};

/** Socket errors on the way to the server (Node's errno codes). */
const BY_ERRNO: Record<string, string> = {
  ECONNREFUSED: 'the database server refused the connection',
  ECONNRESET: 'the database server reset the connection',
  EPIPE: 'the database server closed the connection',
  ETIMEDOUT: 'the connection to the database server timed out',
  EHOSTUNREACH: 'the database server cannot be reached',
  ENETUNREACH: 'the database server cannot be reached',
  ENOTFOUND: "the database server's name does not resolve",
  EAI_AGAIN: "the database server's name does not resolve now",
};

/** node-postgres's own errors, which carry no code: its messages, as lib/client.js and pg-pool write them. */
const BY_DRIVER_MESSAGE: Array<[RegExp, string]> = [
  [/^Connection terminated due to connection timeout/, 'the database server did not take a connection within the connect timeout'],
  [/^Connection terminated/, 'the connection to the database server ended'],
  [/^timeout exceeded when trying to connect$/, 'no connection to the database server was free within the connect timeout'],
  [/^Query read timeout$/, 'the database server did not answer within the query timeout'],
  [/is not queryable$/, 'the connection to the database server failed'],
];

/** The SQLSTATE of a database error (PGlite's and pg's `code`, or the Data API message's `SQLState: …`). */
export function sqlStateOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  return /SQLState: ([0-9A-Z]{5})\b/.exec(String((error as Error | null)?.message ?? ''))?.[1];
}

/** What an outage was, in a client's words with its SQLSTATE or errno, the code for the log, and the wait to advise. */
export interface OutageCause extends Outage {
  code: string;
}

/**
 * What went wrong, when it is an outage: the words name what happened and the SQLSTATE or errno; never the
 * statement, its parameters or the URL. Null when it is not one (a bug, a constraint...).
 */
export function describeOutage(error: unknown): OutageCause | null {
  const state = sqlStateOf(error);
  if (state) {
    const outage = BY_SQLSTATE[state] ?? BY_SQLSTATE[state.slice(0, 2)];
    return outage ? { what: `${outage.what}, SQLSTATE ${state}`, retryAfterSeconds: outage.retryAfterSeconds, code: state } : null;
  }
  const errno = (error as { code?: unknown } | null)?.code;
  if (typeof errno === 'string' && errno in BY_ERRNO) return { what: `${BY_ERRNO[errno]} (${errno})`, retryAfterSeconds: 5, code: errno };
  const message = String((error as Error | null)?.message ?? '');
  const driver = BY_DRIVER_MESSAGE.find(([pattern]) => pattern.test(message));
  return driver ? { what: driver[1], retryAfterSeconds: 5, code: 'connection_lost' } : null;
}

/** The error as an outage the client should retry after (DatabaseUnavailableError), or null when it is not one. */
export function outageOf(error: unknown): DatabaseUnavailableError | null {
  if (error instanceof DatabaseUnavailableError) return error;
  const cause = describeOutage(error);
  return cause && new DatabaseUnavailableError(cause.retryAfterSeconds, `${cause.what}; retry shortly`, cause.code);
}

/** Runs `work`, turning an outage into DatabaseUnavailableError and letting every other error through as it is. */
export async function asOutage<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw outageOf(error) ?? error;
  }
}

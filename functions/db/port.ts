/** A value bound to a `:named` parameter. Dates travel as zone-less UTC text; uuid and json are tagged for the Data API's typeHint. */
export type SqlValue = string | number | boolean | null | Date | SqlUuid | SqlJson;
export interface SqlUuid {
  readonly uuid: string;
}
export interface SqlJson {
  readonly json: unknown;
}
export type SqlParams = Readonly<Record<string, SqlValue>>;
export type Row = Record<string, unknown>;

export const uuid = (value: string): SqlUuid => ({ uuid: value });
/** Lists go in as JSON text and are unpacked in SQL: the Data API has no array parameters. */
export const json = (value: unknown): SqlJson => ({ json: value });

/**
 * The one way handlers reach the database. The same SQL text runs on both adapters (Data API in AWS,
 * PGlite locally), so it uses `:named` parameters, explicit casts and nothing newer than PostgreSQL 16.
 */
export interface Database {
  query<T = Row>(sql: string, params?: SqlParams): Promise<T[]>;
  /** Runs `work` in one transaction: all of it commits, or none. */
  transaction<T>(work: (tx: Database) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /** How many statements are worth having in flight at once (a pool's connections); recording sends as many. */
  statementsInFlight?: number;
}

/**
 * The database cannot serve now (Aurora resuming from zero, a server stopped or unreachable, a full disk...): the
 * caller should retry after `retryAfterSeconds`. The message says what happened in words a client may read; `code`
 * is the SQLSTATE or errno behind it, for the log. Neither ever holds SQL, parameters or a secret.
 */
export class DatabaseUnavailableError extends Error {
  override name = 'DatabaseUnavailableError';
  constructor(
    readonly retryAfterSeconds: number,
    message = 'the database is not available yet; retry shortly',
    readonly code?: string,
  ) {
    super(message);
  }
}

/** `YYYY-MM-DD HH:MM:SS.FFF` in UTC: the Data API's TIMESTAMP format, and unambiguous for PGlite (session zone UTC). */
export function timestampText(date: Date): string {
  return date.toISOString().replace('T', ' ').replace('Z', '');
}

/**
 * A time as every query returns one: milliseconds since 1970 UTC, a bigint, rounded down to the millisecond (the
 * precision the service's clock and the API's times carry). The Data API's list of result types for Aurora PostgreSQL
 * names TIMESTAMP but not TIMESTAMPTZ (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api-operations.html),
 * and a bigint comes back alike from every engine. `expression` is SQL of type timestamptz; readEpochMs reads the result.
 */
export const epochMs = (expression: string): string => `floor(extract(epoch FROM ${expression}) * 1000)::bigint`;

/**
 * A time a query returned as epochMs(...) says: a number (Data API, PGlite) or digits (pg's int8). Anything else is
 * refused, so a timestamptz column returned by mistake fails on every engine, not only where the Data API refuses it.
 */
export function readEpochMs(value: unknown): Date | null {
  if (value === null || value === undefined) return null;
  const ms = typeof value === 'number' || typeof value === 'bigint' ? Number(value) : typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(ms)) throw new TypeError(`not epoch milliseconds: ${value instanceof Date ? 'a Date (return epochMs(...) instead)' : typeof value}`);
  return new Date(ms);
}

/** int8 and numeric may arrive as text from either adapter. */
export function readNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint' || typeof value === 'string') return Number(value);
  if (value === null || value === undefined) return 0;
  throw new TypeError(`not a number: ${typeof value}`);
}

/** jsonb arrives parsed from PGlite and as text from the Data API. */
export function readJson<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RDSDataClient } from '@aws-sdk/client-rds-data';
import pg from 'pg';
import { dataApiDatabase, DEFAULT_RETRY, type DataApiTarget, type RetryPolicy } from '../../functions/db/data-api.js';
import { loadSchema, migrate } from '../../functions/db/migrate.js';
import { toPositional } from '../../functions/db/named-params.js';
import type { Database } from '../../functions/db/port.js';
import { SQL_DIR } from '../../functions/local/service.js';
import { createTestDatabase } from './postgres.js';

/*
 * A stand-in for the RDS Data API: a loopback HTTP server speaking its REST-JSON protocol, so the real
 * RDSDataClient (its real serialisation) and the real dataApiDatabase adapter run against PostgreSQL 16.
 * Where AWS's documentation is unclear, it takes the stricter reading. Pages it follows:
 *   [ES]  https://docs.aws.amazon.com/rdsdataservice/latest/APIReference/API_ExecuteStatement.html
 *   [OPS] https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api-operations.html (typeHints, supported types)
 *   [JSON] https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api-json.html (formattedRecords)
 *   [LIM] https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api.limitations.html
 *   [TS]  https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api.troubleshooting.html
 *   [BES] https://docs.aws.amazon.com/rdsdataservice/latest/APIReference/API_BatchExecuteStatement.html (4 MiB requests)
 *   [API] https://github.com/boto/botocore/blob/develop/botocore/data/rds-data/2018-08-01/service-2.json (the API model
 *         the reference pages are made from: each error's HTTP status, the length constraint on `sql`)
 *   [RUN] https://github.com/aws/aws-sdk-js/issues/4615 ("Transaction is still running a query", as users of v2 report it)
 */

/**
 * How the stand-in reads what the documentation leaves open. The default is the strict reading; each switch gives the
 * looser one, so a test can show the code works under both.
 */
export interface DataApiReading {
  /**
   * [OPS] lists TIMESTAMP among Aurora PostgreSQL's result types but not TIMESTAMPTZ, and third-party reports disagree on
   * whether timestamptz columns come back. Strict: a timestamptz result column is refused (UnsupportedResultException).
   * Looser: it comes back as zone-less UTC text, as a TIMESTAMP does.
   */
  timestamptzResults: boolean;
  /**
   * [ES]: formatRecordsAs "only applies to SELECT statements and is ignored for other types of statements", without
   * saying how a statement is recognised. Strict ('keyword'): a statement that begins with SELECT (and whose command is
   * a SELECT); `WITH … SELECT` and `WITH … INSERT … RETURNING` are not. Looser ('command'): any statement PostgreSQL
   * reports as a SELECT, `WITH … SELECT`, VALUES and TABLE included.
   */
  selectStatements: 'keyword' | 'command';
}

/** The strict reading of both: what the code must work under. */
export const STRICT_READING: DataApiReading = { timestamptzResults: false, selectStatements: 'keyword' };
/** The looser reading of both: the code must work under it too. */
export const LOOSE_READING: DataApiReading = { timestamptzResults: true, selectStatements: 'command' };

/** DATA_API_READING=loose runs every suite under the looser reading (`DATA_API_READING=loose npx vitest run --project data-api`). */
function defaultReading(env: Readonly<Record<string, string | undefined>> = process.env): DataApiReading {
  const chosen = env.DATA_API_READING?.trim() || 'strict';
  if (chosen !== 'strict' && chosen !== 'loose') throw new Error(`DATA_API_READING must be strict or loose, got "${chosen}"`);
  return chosen === 'loose' ? LOOSE_READING : STRICT_READING;
}

/** The result column types the Data API returns for Aurora PostgreSQL [OPS], by type oid. Enums are allowed too. */
export const DATA_API_RESULT_TYPES: ReadonlyMap<number, string> = new Map([
  [16, 'bool'], [17, 'bytea'], [19, 'name'], [20, 'int8'], [21, 'int2'], [23, 'int4'], [25, 'text'], [114, 'json'],
  [650, 'cidr'], [700, 'float4'], [701, 'float8'], [869, 'inet'], [1042, 'bpchar'], [1043, 'varchar'], [1082, 'date'],
  [1083, 'time'], [1114, 'timestamp'], [1700, 'numeric'], [2950, 'uuid'], [3802, 'jsonb'],
]);
/** timestamptz: not on [OPS]'s list; returned only under the looser reading (DataApiReading.timestamptzResults). */
const TIMESTAMPTZ = 1184;
const INTEGERS = new Set([20, 21, 23]);
const FLOATS = new Set([700, 701]);

/** typeHint -> the type the parameter is bound as [OPS]; the accepted text formats are checked first. */
const TYPE_HINTS: Record<string, { oid: number; format?: RegExp; wants?: string }> = {
  TIMESTAMP: { oid: 1114, format: /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,3})?$/, wants: 'YYYY-MM-DD HH:MM:SS[.FFF]' },
  DATE: { oid: 1082, format: /^\d{4}-\d\d-\d\d$/, wants: 'YYYY-MM-DD' },
  TIME: { oid: 1083, format: /^\d\d:\d\d:\d\d(\.\d{1,3})?$/, wants: 'HH:MM:SS[.FFF]' },
  DECIMAL: { oid: 1700 },
  UUID: { oid: 2950 },
  JSON: { oid: 114 },
};

const MiB = 1024 * 1024;
/** [BES]: "the maximum size of the HTTP request submitted through the Data API is 4 MiB" (headers and JSON included). */
const MAX_REQUEST_BYTES = 4 * MiB;
/** [LIM]: "The response size limit is 1 MiB." */
const MAX_RESPONSE_BYTES = MiB;
/** [LIM]: "The Data API size limit is 64 KB per row in the result set returned by the database." */
const MAX_ROW_BYTES = 64 * 1024;
/** [ES]: a call is terminated after 45 s unless continueAfterTimeout is set. */
const STATEMENT_TIMEOUT_MS = 45_000;
/** [API]: SqlStatement is a string of at most 65,536 characters. */
const MAX_SQL_CHARACTERS = 65_536;

class DataApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** The adapter's retry policy on the real clock, with a budget a test can afford and no jitter. */
export const quickRetry = (budgetMs: number): RetryPolicy => ({
  budgetMs,
  baseDelayMs: 20,
  maxDelayMs: 100,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  now: () => Date.now(),
  random: () => 1,
});

export interface ReceivedCall {
  operation: 'ExecuteStatement' | 'BeginTransaction' | 'CommitTransaction' | 'RollbackTransaction' | string;
  input: Record<string, any>;
  /** The exception the stand-in answered with, if any. */
  error?: string;
}

/**
 * Aurora Serverless v2 at 0 ACU, as AWS documents it
 * (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2-auto-pause.html): it pauses after
 * SecondsUntilAutoPause without activity; the next call starts a resume that takes about 15 s, or 30 s and more after a
 * day paused; meanwhile the Data API answers DatabaseResumingException ("the Data API request automatically resumes the DB
 * instance. Wait a few seconds and try again":
 * https://docs.aws.amazon.com/rdsdataservice/latest/APIReference/API_ExecuteStatement.html#API_ExecuteStatement_Errors).
 */
export interface PauseModel {
  /** Idle seconds before it pauses (the cluster's SecondsUntilAutoPause, 300 to 86,400). */
  autoPauseSeconds: number;
  /** How long a resume takes after being paused this long. @default 15 s, 30 s after more than a day */
  resumeMs?: (pausedMs: number) => number;
  /** A call that arrives while it resumes waits for the resume (up to the call timeout) instead of being refused. @default false */
  blockWhileResuming?: boolean;
  /** The clock it runs on: the real one, or a simulation's (then nothing blocks). @default Date.now */
  now?: () => number;
  /** Paused from the start, as a cluster nobody called for a while. @default false */
  startPaused?: boolean;
}

/** AWS: "about 15 seconds" to resume, "30 seconds or longer" after more than 24 hours paused. */
export const documentedResumeMs = (pausedMs: number): number => (pausedMs > 86_400_000 ? 30_000 : 15_000);

/** How long the instance was awake (capacity billed) and how often it resumed. */
export interface PauseReport {
  awakeMs: number;
  resumes: number;
}

export interface DataApiStandInOptions {
  /** Auto-pause and resume. @default none: always awake unless pauseFor() says otherwise */
  pauseModel?: PauseModel;
  /** Connections the autocommit calls rotate among, so nothing can lean on session state between calls. */
  connections?: number;
  /** The call timeout (AWS: 45 s); tests shorten it. */
  statementTimeoutMs?: number;
  /** The adapter's retry policy for `db`. */
  retry?: RetryPolicy;
  /** How the documentation's open questions are read. @default STRICT_READING, unless DATA_API_READING says loose */
  reading?: Partial<DataApiReading>;
}

/**
 * ExecuteStatement's documented errors for a database or service that cannot serve calls, with the HTTP status of each
 * [API]: DatabaseUnavailableException (504, "the writer instance in the DB cluster isn't available"),
 * InvalidResourceStateException (400, "the resource is in an invalid state"), ServiceUnavailableError (503, "the service
 * specified by the resourceArn parameter isn't available"). The SDK itself retries the two 5xx before the adapter sees them.
 */
const OUTAGES = {
  DatabaseUnavailableException: { status: 504, message: "The writer instance in the DB cluster isn't available." },
  InvalidResourceStateException: { status: 400, message: 'The resource is in an invalid state.' },
  ServiceUnavailableError: { status: 503, message: "The service specified by the resourceArn parameter isn't available." },
} as const;
export type OutageType = keyof typeof OUTAGES;

export interface Parameter {
  name: string;
  value?: { isNull?: boolean; stringValue?: string; longValue?: number; doubleValue?: number; booleanValue?: boolean; blobValue?: string };
  typeHint?: string;
}

/** Binds each `:name` with the type the Data API gives it: text for an untyped string, the typeHint's type otherwise. */
export function bind(sql: string, parameters: Parameter[] = []): { text: string; values: (string | null)[]; types: number[] } {
  const byName = new Map(parameters.map((parameter) => [parameter.name, parameter]));
  let converted: { text: string; values: unknown[] };
  try {
    converted = toPositional(sql, Object.fromEntries(parameters.map((parameter) => [parameter.name, parameter.name])));
  } catch (error) {
    throw new DataApiError('BadRequestException', (error as Error).message);
  }
  const values: (string | null)[] = [];
  const types: number[] = [];
  for (const name of converted.values as string[]) {
    const { value = {}, typeHint } = byName.get(name)!;
    if (value.isNull) {
      values.push(null);
      types.push(0);
    } else if (value.stringValue !== undefined) {
      const hint = typeHint ? TYPE_HINTS[typeHint] : undefined;
      if (typeHint && !hint) throw new DataApiError('BadRequestException', `unsupported typeHint ${typeHint}`);
      if (hint?.format && !hint.format.test(value.stringValue)) {
        throw new DataApiError('BadRequestException', `${typeHint} parameter :${name} must be in the format ${hint.wants}`);
      }
      values.push(value.stringValue);
      types.push(hint?.oid ?? 25);
    } else if (value.longValue !== undefined) {
      values.push(String(value.longValue));
      types.push(20);
    } else if (value.doubleValue !== undefined) {
      values.push(String(value.doubleValue));
      types.push(701);
    } else if (value.booleanValue !== undefined) {
      values.push(String(value.booleanValue));
      types.push(16);
    } else if (value.blobValue !== undefined) {
      values.push(`\\x${Buffer.from(value.blobValue, 'base64').toString('hex')}`);
      types.push(17);
    } else {
      // [OPS]: "Array parameters are not supported."
      throw new DataApiError('BadRequestException', `parameter :${name} has no supported value`);
    }
  }
  return { text: converted.text, values, types };
}

/** A value as formattedRecords writes it [JSON]: numbers for integer and float types, booleans, strings for the rest. */
function jsonValue(oid: number, text: string | null): unknown {
  if (text === null) return null;
  if (INTEGERS.has(oid) || FLOATS.has(oid)) return Number(text);
  if (oid === 16) return text === 't';
  if (oid === 17) return Buffer.from(text.slice(2), 'hex').toString('base64');
  // Under the looser reading timestamptz comes back as zone-less text; the session is UTC, so the offset dropped is +00.
  if (oid === TIMESTAMPTZ) return text.replace(/[+-]\d\d(:\d\d)?$/, '');
  return text;
}

/** The same value as a `Field` of `records`. */
function field(oid: number, text: string | null): Record<string, unknown> {
  const value = jsonValue(oid, text);
  if (value === null) return { isNull: true };
  if (INTEGERS.has(oid)) return { longValue: value };
  if (FLOATS.has(oid)) return { doubleValue: value };
  if (oid === 16) return { booleanValue: value };
  if (oid === 17) return { blobValue: value };
  return { stringValue: value };
}

/** The first keyword of a statement, past comments and opening parentheses. */
const LEADING_KEYWORD = /^(?:\s+|--[^\n]*(?=\n|$)|\/\*[\s\S]*?\*\/|\()*([A-Za-z]+)/;

/** Queries on one connection run one after another, in the order the calls arrived. */
const tails = new WeakMap<pg.Client, Promise<unknown>>();
function inTurn<T>(client: pg.Client, work: () => Promise<T>): Promise<T> {
  const turn = (tails.get(client) ?? Promise.resolve()).then(work);
  tails.set(client, turn.catch(() => {}));
  return turn;
}

export type DataApiStandIn = Awaited<ReturnType<typeof openDataApiStandIn>>;

/** Starts the stand-in in front of `databaseUrl` (a database on the PostgreSQL 16 test bed). */
export async function openDataApiStandIn(databaseUrl: string, options: DataApiStandInOptions = {}) {
  const { connections = 3, statementTimeoutMs = STATEMENT_TIMEOUT_MS } = options;
  const reading: DataApiReading = { ...defaultReading(), ...options.reading };
  const database = decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
  const target: DataApiTarget = {
    resourceArn: 'arn:aws:rds:eu-west-1:123456789012:cluster:days-since-stand-in',
    secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:days-since-stand-in-AbCdEf',
    database,
  };
  // Aurora's sessions speak UTC, as these do.
  const connect = async () => {
    const client = new pg.Client({ connectionString: databaseUrl, options: '-c TimeZone=UTC' });
    client.on('error', () => {});
    await client.connect();
    return client;
  };
  const pool = await Promise.all(Array.from({ length: connections }, connect));
  const canceller = await connect();
  const transactions = new Map<string, pg.Client>();
  /** Transactions whose last statement is still running on the database (it outlived its call, or another call is in it). */
  const running = new Set<string>();
  const calls: ReceivedCall[] = [];
  let next = 0;
  const model = options.pauseModel;
  const clock = model?.now ?? Date.now;
  const resumeTime = model?.resumeMs ?? documentedResumeMs;
  // Awake since (billed from the resume's start), or paused since; resumingUntil while a resume runs.
  let awakeSince: number | null = model?.startPaused ? null : clock();
  let pausedSince: number | null = model?.startPaused ? clock() : null;
  let resumingUntil: number | null = null;
  let lastActivity = clock();
  let awakeMs = 0;
  let resumes = 0;
  let outage: { until: number; type: OutageType } | null = null;

  /** Brings the state up to `now`: a resume that finished, a pause that came due. */
  function settle(now: number) {
    if (resumingUntil !== null && now >= resumingUntil) {
      lastActivity = resumingUntil;
      resumingUntil = null;
    }
    if (model && resumingUntil === null && awakeSince !== null && now - lastActivity >= model.autoPauseSeconds * 1000) {
      const pausedAt = lastActivity + model.autoPauseSeconds * 1000;
      awakeMs += pausedAt - awakeSince;
      awakeSince = null;
      pausedSince = pausedAt;
    }
  }

  /** Before a call reaches the database: refused (or held) while paused or resuming; a paused one starts resuming. */
  async function wake() {
    let now = clock();
    settle(now);
    if (awakeSince === null) {
      resumes += 1;
      resumingUntil = now + resumeTime(now - (pausedSince ?? now));
      awakeSince = now;
      pausedSince = null;
    }
    if (resumingUntil !== null && model?.blockWhileResuming && !model.now) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(resumingUntil! - now, statementTimeoutMs)));
      now = clock();
      settle(now);
      if (resumingUntil !== null) throw new DataApiError('StatementTimeoutException', 'The statement timed out');
    }
    if (resumingUntil !== null) {
      throw new DataApiError('DatabaseResumingException', 'The database is resuming after being auto-paused. Please wait a few seconds and try again.');
    }
    lastActivity = now;
  }

  /**
   * Runs one statement, answering StatementTimeoutException after the timeout (and cancelling it unless told to continue).
   * `settled` hears when the statement itself has ended, which for a continued one is after its call has answered.
   */
  async function run(client: pg.Client, input: Record<string, any>, settled: (error?: unknown) => void = () => {}) {
    let bound: ReturnType<typeof bind>;
    try {
      bound = bind(input.sql, input.parameters);
    } catch (error) {
      settled();
      throw error;
    }
    const { text, values, types } = bound;
    // Raw text for every column: the stand-in formats values itself. The extended protocol refuses several statements in one.
    const typesWithRawText = Object.assign(types, { getTypeParser: () => (value: string) => value });
    let started = false;
    let cancelled = false;
    const query = inTurn(client, () => {
      if (cancelled) throw new DataApiError('StatementTimeoutException', 'The statement timed out');
      started = true;
      const config = { text, values, types: typesWithRawText, rowMode: 'array', queryMode: 'extended' };
      return client.query(config as never) as Promise<pg.QueryArrayResult<(string | null)[]>>;
    });
    const backend = (client as unknown as { processID: number }).processID;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        cancelled = !input.continueAfterTimeout;
        if (cancelled && started) void inTurn(canceller, () => canceller.query('SELECT pg_cancel_backend($1)', [backend])).catch(() => {});
        reject(new DataApiError('StatementTimeoutException', 'The statement timed out', 400, { dbConnectionId: backend }));
      }, statementTimeoutMs);
    });
    query.then(() => settled(), (error: unknown) => settled(error));
    try {
      return await Promise.race([query, timedOut]);
    } catch (error) {
      if (error instanceof DataApiError) throw error;
      const { message, code } = error as { message: string; code?: string };
      // [TS] "Multistatements aren't supported" on Aurora Serverless v2 and provisioned clusters.
      if (code === '42601' && /multiple commands/.test(message)) throw new DataApiError('BadRequestException', "Multistatements aren't supported.");
      throw new DataApiError('DatabaseErrorException', `ERROR: ${message}; SQLState: ${code ?? 'XX000'}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** UnsupportedResultException for a column type outside [OPS]'s list [TS]: arrays included, as the project's rule. */
  async function checkResultTypes(client: pg.Client, fields: pg.FieldDef[]) {
    for (const { name, dataTypeID } of fields) {
      if (DATA_API_RESULT_TYPES.has(dataTypeID) || (dataTypeID === TIMESTAMPTZ && reading.timestamptzResults)) continue;
      const { rows } = await inTurn(client, () =>
        client.query<{ typname: string; typtype: string }>('SELECT typname, typtype FROM pg_type WHERE oid = $1', [dataTypeID]),
      );
      if (rows[0]?.typtype === 'e') continue;
      throw new DataApiError('UnsupportedResultException', `The result contains the unsupported data type ${rows[0]?.typname ?? dataTypeID} (column ${name}).`);
    }
  }

  /** [RUN]: a call that reaches a transaction whose previous statement still runs is refused, not queued. */
  function checkNotRunning(id: string) {
    if (running.has(id)) throw new DataApiError('DatabaseErrorException', 'Transaction is still running a query');
  }

  async function executeStatement(input: Record<string, any>) {
    if (typeof input.sql !== 'string' || input.sql.trim() === '') throw new DataApiError('BadRequestException', 'sql is required');
    if ([...input.sql].length > MAX_SQL_CHARACTERS) {
      // [API] says only "max 65536" for SqlStatement; a length constraint is refused as AWS refuses any (CommonErrors:
      // https://docs.aws.amazon.com/rdsdataservice/latest/APIReference/CommonErrors.html), before anything runs.
      throw new DataApiError('ValidationException', `1 validation error detected: Value at 'sql' failed to satisfy constraint: Member must have length less than or equal to ${MAX_SQL_CHARACTERS}`);
    }
    const id: string | undefined = input.transactionId;
    const transaction = id === undefined ? undefined : transactions.get(id);
    if (id !== undefined && !transaction) {
      // [TS] "Transaction <transaction_ID> is not found": expired, ended, or rolled back after an error.
      throw new DataApiError('NotFoundException', `Transaction ${id} is not found`, 404);
    }
    if (id !== undefined) checkNotRunning(id);
    // Autocommit calls land on any pooled connection; a transaction keeps its own.
    const client = transaction ?? pool[next++ % pool.length]!;
    if (id !== undefined) running.add(id);
    let statementEnded!: () => void;
    const ended = new Promise<void>((resolve) => (statementEnded = resolve));
    const settled = (error?: unknown) => {
      statementEnded();
      if (id === undefined) return;
      running.delete(id);
      // A statement that outlived its call and then failed ends its transaction, as a failed call does.
      if (error !== undefined && input.continueAfterTimeout) void endTransaction(id, 'ROLLBACK').catch(() => {});
    };
    try {
      const result = await run(client, input, settled);
      await checkResultTypes(client, result.fields);
      return answer(result, input);
    } catch (error) {
      if (id === undefined) throw error;
      // [TS]: an error in a call ends its transaction (rolled back); later calls find it gone.
      const continuing = (error as DataApiError).type === 'StatementTimeoutException' && input.continueAfterTimeout;
      if (!continuing) {
        // A cancelled statement must end before its transaction can.
        await ended;
        await endTransaction(id, 'ROLLBACK').catch(() => {});
      }
      throw error;
    }
  }

  /** Whether formatRecordsAs JSON applies to this statement, under the reading in force (DataApiReading.selectStatements). */
  function isSelectStatement(sql: string, command: string): boolean {
    if (command !== 'SELECT') return false;
    return reading.selectStatements === 'command' || LEADING_KEYWORD.exec(sql)?.[1]?.toUpperCase() === 'SELECT';
  }

  function answer(result: pg.QueryArrayResult<(string | null)[]>, input: Record<string, any>) {
    const oids = result.fields.map((f) => f.dataTypeID);
    for (const row of result.rows) {
      const bytes = row.reduce((sum, value) => sum + (value === null ? 0 : Buffer.byteLength(value)), 0);
      if (bytes > MAX_ROW_BYTES) throw new DataApiError('BadRequestException', 'Packet for query is too large');
    }
    const output: Record<string, unknown> = { numberOfRecordsUpdated: result.command === 'SELECT' ? 0 : (result.rowCount ?? 0) };
    if (input.formatRecordsAs === 'JSON') {
      // [ES] formatRecordsAs "only applies to SELECT statements and is ignored for other types of statements";
      // records and columnMetadata are "blank if formatRecordsAs is JSON". Stricter reading: any other statement gets neither.
      if (isSelectStatement(input.sql, result.command)) {
        output.formattedRecords = JSON.stringify(
          result.rows.map((row) => Object.fromEntries(result.fields.map((f, i) => [f.name, jsonValue(oids[i]!, row[i]!)]))),
        );
      }
    } else if (result.fields.length > 0) {
      output.records = result.rows.map((row) => row.map((value, i) => field(oids[i]!, value)));
      if (input.includeResultMetadata) {
        output.columnMetadata = result.fields.map((f) => ({ name: f.name, label: f.name, type: f.dataTypeID, typeName: DATA_API_RESULT_TYPES.get(f.dataTypeID) ?? 'enum' }));
      }
    }
    return output;
  }

  async function endTransaction(id: string, sql: 'COMMIT' | 'ROLLBACK') {
    const client = transactions.get(id);
    if (!client) throw new DataApiError('NotFoundException', `Transaction ${id} is not found`, 404);
    checkNotRunning(id);
    transactions.delete(id);
    try {
      const result = await inTurn(client, () => client.query(sql));
      // A COMMIT of a transaction that failed is a rollback in PostgreSQL; the Data API never reports it committed.
      if (sql === 'COMMIT' && result.command === 'ROLLBACK') throw new DataApiError('BadRequestException', `Transaction ${id} was rolled back`);
    } finally {
      await client.end().catch(() => {});
    }
  }

  function checkTarget(input: Record<string, any>) {
    if (input.resourceArn !== target.resourceArn || input.secretArn !== target.secretArn) {
      throw new DataApiError('BadRequestException', 'resourceArn and secretArn must name the cluster and its secret');
    }
    if (input.database !== undefined && input.database !== target.database) {
      throw new DataApiError('DatabaseNotFoundException', `database ${input.database} does not exist`, 404);
    }
  }

  const operations: Record<string, [ReceivedCall['operation'], (input: Record<string, any>) => Promise<Record<string, unknown>>]> = {
    '/Execute': ['ExecuteStatement', executeStatement],
    '/BeginTransaction': [
      'BeginTransaction',
      async () => {
        const client = await connect();
        await client.query('BEGIN');
        const id = randomBytes(12).toString('base64url');
        transactions.set(id, client);
        return { transactionId: id };
      },
    ],
    '/CommitTransaction': ['CommitTransaction', async (input) => (await endTransaction(input.transactionId, 'COMMIT'), { transactionStatus: 'Transaction Committed' })],
    '/RollbackTransaction': ['RollbackTransaction', async (input) => (await endTransaction(input.transactionId, 'ROLLBACK'), { transactionStatus: 'Rollback Complete' })],
  };

  async function handle(request: IncomingMessage, response: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const [operation, perform] = operations[request.url ?? ''] ?? [request.url ?? '', undefined];
    let input: Record<string, any> = {};
    let status = 200;
    let output: Record<string, unknown>;
    try {
      input = JSON.parse(body.toString('utf8') || '{}');
      const headerBytes = request.rawHeaders.reduce((sum, value) => sum + Buffer.byteLength(value) + 2, 0);
      if (body.length + headerBytes > MAX_REQUEST_BYTES) throw new DataApiError('BadRequestException', 'Request size exceeds the 4 MiB limit');
      if (!perform) throw new DataApiError('BadRequestException', `${operation} is not served by the stand-in`);
      checkTarget(input);
      if (operation === 'ExecuteStatement' || operation === 'BeginTransaction') {
        if (outage && clock() < outage.until) throw new DataApiError(outage.type, OUTAGES[outage.type].message, OUTAGES[outage.type].status);
        await wake();
      }
      output = await perform(input);
      lastActivity = Math.max(lastActivity, clock());
      if (Buffer.byteLength(JSON.stringify(output)) > MAX_RESPONSE_BYTES) {
        // [TS] "Database response exceeded size limit".
        throw new DataApiError('BadRequestException', 'Database response exceeded size limit');
      }
      calls.push({ operation, input });
    } catch (error) {
      const failure = error instanceof DataApiError ? error : new DataApiError('InternalServerErrorException', 'stand-in failure', 500);
      calls.push({ operation, input, error: failure.type });
      status = failure.status;
      output = { message: failure.message, ...failure.extra };
      response.setHeader('x-amzn-errortype', failure.type);
    }
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(output));
  }

  const server = createServer((request, response) => void handle(request, response));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new RDSDataClient({
    endpoint,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'AKIDSTANDIN', secretAccessKey: 'stand-in-secret' },
  });

  return {
    endpoint,
    client,
    target,
    /** The real adapter over the real client, through the stand-in. */
    db: dataApiDatabase(client, target, options.retry ?? DEFAULT_RETRY),
    /** Every call received, in order, with the exception answered if any. */
    calls,
    /** Answers DatabaseResumingException for `ms` from now, as a paused Aurora Serverless v2 does while it wakes; 0: awake now. */
    pauseFor(ms: number) {
      const now = clock();
      settle(now);
      if (awakeSince === null) {
        awakeSince = now;
        pausedSince = null;
      }
      resumingUntil = ms > 0 ? now + ms : null;
      if (ms <= 0) lastActivity = now;
    },
    /** Answers `type` to every statement for `ms`, as AWS does while the writer is unavailable or the cluster is being modified. */
    outageFor(type: OutageType, ms: number) {
      outage = { until: clock() + ms, type };
    },
    /** Pauses now, as if the idle delay had just run out. */
    pause() {
      const now = clock();
      settle(now);
      if (awakeSince !== null) awakeMs += now - awakeSince;
      awakeSince = null;
      resumingUntil = null;
      pausedSince = now;
    },
    /** Awake time (resumes included) and resumes so far, as of the model's clock. */
    pauseReport(): PauseReport {
      const now = clock();
      settle(now);
      return { awakeMs: awakeMs + (awakeSince === null ? 0 : now - awakeSince), resumes };
    },
    /** Whether it is paused right now (not awake, not resuming). */
    paused(): boolean {
      settle(clock());
      return awakeSince === null;
    },
    async close() {
      client.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all([...transactions.values()].map((c) => c.end().catch(() => {})));
      transactions.clear();
      await Promise.all([...pool, canceller].map((c) => c.end().catch(() => {})));
    },
  };
}

/** A fresh database with sql/ applied through the stand-in by the real migrator; close() drops it. */
export async function dataApiStandInDatabase(): Promise<Database> {
  const { url, drop } = await createTestDatabase();
  const standIn = await openDataApiStandIn(url);
  try {
    await migrate(dataApiDatabase(standIn.client, standIn.target, DEFAULT_RETRY, { continueAfterTimeout: true }), await loadSchema(SQL_DIR));
  } catch (error) {
    await standIn.close();
    await drop();
    throw error;
  }
  return {
    query: (sql, params) => standIn.db.query(sql, params),
    transaction: (work) => standIn.db.transaction(work),
    async close() {
      await standIn.close();
      await drop();
    },
  };
}

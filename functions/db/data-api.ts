import {
  BeginTransactionCommand,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  RollbackTransactionCommand,
  type ExecuteStatementCommandOutput,
  type Field,
  type RDSDataClient,
  type SqlParameter,
} from '@aws-sdk/client-rds-data';
import {
  DatabaseUnavailableError,
  timestampText,
  type Database,
  type Row,
  type SqlParams,
  type SqlValue,
} from './port.js';

export interface DataApiTarget {
  resourceArn: string;
  secretArn: string;
  database: string;
}

export interface RetryPolicy {
  /** Total time to keep retrying a paused Aurora; fits inside API Gateway's 29 s integration limit. */
  budgetMs: number;
  baseDelayMs: number;
  maxDelayMs: number;
  sleep: (ms: number) => Promise<void>;
  now: () => number;
  random: () => number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  budgetMs: 20_000,
  baseDelayMs: 250,
  maxDelayMs: 4_000,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  now: () => Date.now(),
  random: Math.random,
};

/** Aurora Serverless v2 resumes from zero in about 15 s: a caller told to wait this long finds it awake. */
export const RETRY_AFTER_SECONDS = 15;

/**
 * Errors that mean "the database cannot answer right now": the same statement may succeed shortly, and a caller that
 * still gets one past the budget is told 503 with Retry-After, never 500. From ExecuteStatement's errors
 * (https://docs.aws.amazon.com/rdsdataservice/latest/APIReference/API_ExecuteStatement.html#API_ExecuteStatement_Errors):
 * DatabaseResumingException (an auto-paused instance is resuming), DatabaseUnavailableException (504: the writer is not
 * available), InvalidResourceStateException (the cluster is in a state that cannot serve the call, e.g. modifying),
 * ServiceUnavailableError (503: the Data API itself is unavailable), StatementTimeoutException (the call's 45 s ran out,
 * as while a resume blocks it).
 */
const UNAVAILABLE = new Set([
  'DatabaseResumingException',
  'DatabaseUnavailableException',
  'InvalidResourceStateException',
  'ServiceUnavailableError',
  'StatementTimeoutException',
]);
/** The client gave up on a call (its timeout within the invocation's remaining time). */
const GAVE_UP = new Set(['AbortError', 'TimeoutError']);

/** A deadlock or serialization failure rolled the statement back whole: running it again is safe. */
const CONFLICT = /SQLState: 40(P01|001)\b/;

/** Whether running the same call again can succeed. Inside a transaction only a resume is: any failed statement aborts it. */
function worthRetrying(error: unknown, inTransaction: boolean): boolean {
  const { name, message } = error as Error;
  if (inTransaction) return name === 'DatabaseResumingException';
  return UNAVAILABLE.has(name) || CONFLICT.test(message ?? '');
}

/** What reaches the caller: an outage as DatabaseUnavailableError (503 with Retry-After), anything else as it came. */
function asOutage(error: unknown): unknown {
  const name = (error as Error)?.name;
  return UNAVAILABLE.has(name) || GAVE_UP.has(name) ? new DatabaseUnavailableError(RETRY_AFTER_SECONDS) : error;
}

/**
 * A call that reached a transaction whose last statement still runs (it outlived its own call): the Data API refuses
 * it rather than queueing it (https://github.com/aws/aws-sdk-js/issues/4615), so the statement is still going.
 */
const isStillRunning = (error: unknown) =>
  (error as Error)?.name === 'DatabaseErrorException' && /still running a query/i.test((error as Error).message ?? '');

export function toSqlParameters(params: SqlParams): SqlParameter[] {
  return Object.entries(params).map(([name, value]) => ({ name, ...toField(value) }));
}

function toField(value: SqlValue): Omit<SqlParameter, 'name'> {
  if (value === null) return { value: { isNull: true } };
  if (value instanceof Date) return { value: { stringValue: timestampText(value) }, typeHint: 'TIMESTAMP' };
  if (typeof value === 'string') return { value: { stringValue: value } };
  if (typeof value === 'boolean') return { value: { booleanValue: value } };
  if (typeof value === 'number') {
    return Number.isInteger(value) ? { value: { longValue: value } } : { value: { doubleValue: value } };
  }
  if ('uuid' in value) return { value: { stringValue: value.uuid }, typeHint: 'UUID' };
  return { value: { stringValue: JSON.stringify(value.json) }, typeHint: 'JSON' };
}

/** The Data API answered in a shape the adapter cannot read rows from: never taken for "no rows". */
export class UnreadableResultError extends Error {
  override name = 'UnreadableResultError';
}

const LEADING_WORD = /^(?:\s+|--[^\n]*(?=\n|$)|\/\*[\s\S]*?\*\/|\()*([A-Za-z]+)/;

/**
 * What the statement is by its first keyword. formatRecordsAs "only applies to SELECT statements", and AWS does not say
 * whether `WITH … SELECT` is one: JSON is asked only of a statement that begins with SELECT; every other result set
 * (WITH, VALUES, RETURNING) comes back as records with their column names, which the Data API returns for any statement.
 */
function statementKind(sql: string): { json: boolean; returnsRows: boolean } {
  const word = LEADING_WORD.exec(sql)?.[1]?.toUpperCase() ?? '';
  const returnsRows =
    ['SELECT', 'WITH', 'VALUES', 'TABLE', 'SHOW'].includes(word) || (['INSERT', 'UPDATE', 'DELETE', 'MERGE'].includes(word) && /\bRETURNING\b/i.test(sql));
  return { json: word === 'SELECT', returnsRows };
}

function fieldValue(field: Field): unknown {
  if (field.isNull) return null;
  if (field.longValue !== undefined) return field.longValue;
  if (field.doubleValue !== undefined) return field.doubleValue;
  if (field.booleanValue !== undefined) return field.booleanValue;
  if (field.stringValue !== undefined) return field.stringValue;
  if (field.blobValue !== undefined) return Buffer.from(field.blobValue).toString('base64');
  throw new UnreadableResultError('the Data API returned a value of a type the adapter does not read');
}

/** Rows from formattedRecords, or from records named by columnMetadata; [] only for a command known to have no result set. */
function rowsOf<T>(output: ExecuteStatementCommandOutput, returnsRows: boolean): T[] {
  if (output.formattedRecords !== undefined) return JSON.parse(output.formattedRecords) as T[];
  if (output.records !== undefined) {
    const columns = output.columnMetadata?.map((column) => column.label ?? column.name);
    if (!columns || columns.some((name) => name === undefined)) throw new UnreadableResultError('the Data API returned records without column names');
    return output.records.map((record) => Object.fromEntries(record.map((field, i) => [columns[i]!, fieldValue(field)])) as T);
  }
  if (!returnsRows && output.numberOfRecordsUpdated !== undefined) return [];
  throw new UnreadableResultError('the Data API returned no result set for a statement that returns rows');
}

/** Time kept back from the invocation's end to answer the caller after a call gives up. */
export const ANSWER_MARGIN_MS = 1_500;
/** No call waits longer than the Data API's own 45 s call timeout, plus the round trip. */
export const MAX_CALL_MS = 50_000;

export interface DataApiOptions {
  /**
   * Milliseconds left in this invocation (Lambda: context.getRemainingTimeInMillis()). Every call gets a client timeout
   * within it, and retries stop before it: a call that blocks while Aurora resumes never outlives the Lambda (a 502).
   * @default unbounded (only MAX_CALL_MS per call)
   */
  timeLeft?: () => number;
  /**
   * Let statements run past the Data API's 45 s call timeout, waiting inside the transaction until they finish: for
   * migrations (an index on a large table, a backfill), where a DDL cut off mid-way is the worse outcome. Handlers do
   * not set it: a request must answer within API Gateway's 29 s, and a runaway statement should be cancelled, not left running.
   */
  continueAfterTimeout?: boolean;
}

/** The Database port over the RDS Data API: no VPC, no connection pool, retries while Aurora resumes or after a deadlock. */
export function dataApiDatabase(
  client: RDSDataClient,
  target: DataApiTarget,
  retry: RetryPolicy = DEFAULT_RETRY,
  { continueAfterTimeout = false, timeLeft = () => Number.POSITIVE_INFINITY }: DataApiOptions = {},
): Database {
  /** Sends one call with a client timeout inside what is left of the invocation; none at all when too little is left. */
  // One parameter type for the four commands: the client's send() is overloaded per command.
  function send<T>(command: ExecuteStatementCommand | BeginTransactionCommand | CommitTransactionCommand | RollbackTransactionCommand): Promise<T> {
    const allowed = Math.min(MAX_CALL_MS, timeLeft() - ANSWER_MARGIN_MS);
    if (allowed <= 0) return Promise.reject(new DatabaseUnavailableError(RETRY_AFTER_SECONDS));
    return client.send(command as never, { abortSignal: AbortSignal.timeout(allowed) }) as Promise<T>;
  }

  async function withRetry<T>(call: () => Promise<T>, inTransaction: boolean): Promise<T> {
    const deadline = retry.now() + Math.min(retry.budgetMs, timeLeft() - ANSWER_MARGIN_MS);
    for (let attempt = 0; ; attempt++) {
      try {
        return await call();
      } catch (error) {
        if (!worthRetrying(error, inTransaction)) throw error;
        // Full jitter: concurrent cold callers do not all wake the database in lockstep.
        const delay = Math.round(retry.random() * Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** attempt));
        if (retry.now() + delay >= deadline) throw new DatabaseUnavailableError(RETRY_AFTER_SECONDS);
        await retry.sleep(delay);
      }
    }
  }

  function bound(transactionId: string | undefined): Database {
    return {
      async query<T = Row>(sql: string, params: SqlParams = {}) {
        const { json, returnsRows } = statementKind(sql);
        const execute = (statement: string, parameters: SqlParameter[]) =>
          new ExecuteStatementCommand({
            ...target,
            sql: statement,
            parameters,
            ...(json ? { formatRecordsAs: 'JSON' } : { includeResultMetadata: true }),
            ...(continueAfterTimeout ? { continueAfterTimeout } : {}),
            ...(transactionId === undefined ? {} : { transactionId }),
          });
        const command = execute(sql, toSqlParameters(params));
        const inTransaction = transactionId !== undefined;
        try {
          return rowsOf<T>(await withRetry(() => send<ExecuteStatementCommandOutput>(command), inTransaction), returnsRows);
        } catch (error) {
          if (!(continueAfterTimeout && inTransaction && (error as Error).name === 'StatementTimeoutException')) throw asOutage(error);
          // The call timed out but the statement runs on: the transaction's next statement runs once it is done,
          // and fails if it failed. Rows of a statement that outlived its call are lost, so only commands may.
          if (returnsRows) throw error;
          for (let attempt = 0; ; attempt++) {
            try {
              await send(execute('SELECT 1 AS done', []));
              return [];
            } catch (waiting) {
              // Still running: AWS refuses the call at once, or it waits past its own timeout; ask again, less often.
              if ((waiting as Error).name !== 'StatementTimeoutException' && !isStillRunning(waiting)) throw asOutage(waiting);
              await retry.sleep(Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** attempt));
            }
          }
        }
      },
      async transaction(work) {
        if (transactionId !== undefined) throw new Error('nested transactions are not supported');
        let begun: { transactionId?: string };
        try {
          begun = await withRetry(() => send<{ transactionId?: string }>(new BeginTransactionCommand(target)), false);
        } catch (error) {
          throw asOutage(error);
        }
        const id = begun.transactionId!;
        const { resourceArn, secretArn } = target;
        try {
          const result = await work(bound(id));
          await send(new CommitTransactionCommand({ resourceArn, secretArn, transactionId: id }));
          return result;
        } catch (error) {
          await send(new RollbackTransactionCommand({ resourceArn, secretArn, transactionId: id })).catch(() => {});
          throw asOutage(error);
        }
      },
      async close() {},
    };
  }
  return bound(undefined);
}

import {
  BeginTransactionCommand,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  RollbackTransactionCommand,
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

/** Errors that mean "Aurora is waking up": the same statement will succeed shortly. */
const RESUMING = new Set(['DatabaseResumingException', 'StatementTimeoutException']);

/** A deadlock or serialization failure rolled the statement back whole: running it again is safe. */
const CONFLICT = /SQLState: 40(P01|001)\b/;

/** Whether running the same call again can succeed. Inside a transaction only a resume is: any failed statement aborts it. */
function worthRetrying(error: unknown, inTransaction: boolean): boolean {
  const { name, message } = error as Error;
  if (inTransaction) return name === 'DatabaseResumingException';
  return RESUMING.has(name) || CONFLICT.test(message ?? '');
}

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

/** The Database port over the RDS Data API: no VPC, no connection pool, retries while Aurora resumes or after a deadlock. */
export function dataApiDatabase(client: RDSDataClient, target: DataApiTarget, retry: RetryPolicy = DEFAULT_RETRY): Database {
  async function withRetry<T>(call: () => Promise<T>, inTransaction: boolean): Promise<T> {
    const deadline = retry.now() + retry.budgetMs;
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
        const command = new ExecuteStatementCommand({
          ...target,
          sql,
          parameters: toSqlParameters(params),
          formatRecordsAs: 'JSON',
          ...(transactionId === undefined ? {} : { transactionId }),
        });
        const output = await withRetry(() => client.send(command), transactionId !== undefined);
        return output.formattedRecords ? (JSON.parse(output.formattedRecords) as T[]) : [];
      },
      async transaction(work) {
        if (transactionId !== undefined) throw new Error('nested transactions are not supported');
        const begun = await withRetry(() => client.send(new BeginTransactionCommand(target)), false);
        const id = begun.transactionId!;
        const { resourceArn, secretArn } = target;
        try {
          const result = await work(bound(id));
          await client.send(new CommitTransactionCommand({ resourceArn, secretArn, transactionId: id }));
          return result;
        } catch (error) {
          await client.send(new RollbackTransactionCommand({ resourceArn, secretArn, transactionId: id })).catch(() => {});
          throw error;
        }
      },
      async close() {},
    };
  }
  return bound(undefined);
}

import {
  BeginTransactionCommand,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  RDSDataClient,
  RollbackTransactionCommand,
} from '@aws-sdk/client-rds-data';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { dataApiDatabase, RETRY_AFTER_SECONDS, UnreadableResultError, type RetryPolicy } from '../../functions/db/data-api.js';
import { DatabaseUnavailableError, json, uuid } from '../../functions/db/port.js';
import { createIngestHandler } from '../../functions/handlers/ingest.js';
import { post, testDeps } from '../support/harness.js';

const TARGET = {
  resourceArn: 'arn:aws:rds:eu-west-1:123456789012:cluster:days-since',
  secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:days-since-db-AbCdEf',
  database: 'days_since',
};

const rds = mockClient(RDSDataClient);
// The suites share worker processes (vitest.config.ts, isolate off): later files get the real client back.
afterAll(() => rds.restore());
afterEach(() => rds.reset());

/** A retry policy on a clock the test controls: sleeping advances it. */
function virtualTime(budgetMs = 20_000): RetryPolicy & { slept: number[] } {
  let now = 0;
  const slept: number[] = [];
  return {
    budgetMs,
    baseDelayMs: 250,
    maxDelayMs: 4_000,
    random: () => 1,
    now: () => now,
    sleep: async (ms) => {
      slept.push(ms);
      now += ms;
    },
    slept,
  };
}

const resuming = () => Object.assign(new Error('Database is resuming'), { name: 'DatabaseResumingException' });

describe('Data API adapter', () => {
  it('sends named parameters with typeHints for UUID, TIMESTAMP and JSON, and asks for JSON records', async () => {
    rds.on(ExecuteStatementCommand).resolves({ formattedRecords: '[{"n":1}]' });
    const db = dataApiDatabase(new RDSDataClient({}), TARGET);
    const rows = await db.query('SELECT :id::uuid, :at::timestamptz, :doc::jsonb, :name, :n, :ratio, :flag, :nothing', {
      id: uuid('9b2f1c3e-8a4d-4e5f-9a6b-7c8d9e0f1a2b'),
      at: new Date('2026-02-08T12:32:15.123Z'),
      doc: json({ a: [1, 2] }),
      name: 'login',
      n: 42,
      ratio: 0.5,
      flag: true,
      nothing: null,
    });
    expect(rows).toEqual([{ n: 1 }]);
    expect(rds.commandCalls(ExecuteStatementCommand)[0]!.args[0].input).toEqual({
      ...TARGET,
      sql: 'SELECT :id::uuid, :at::timestamptz, :doc::jsonb, :name, :n, :ratio, :flag, :nothing',
      formatRecordsAs: 'JSON',
      parameters: [
        { name: 'id', value: { stringValue: '9b2f1c3e-8a4d-4e5f-9a6b-7c8d9e0f1a2b' }, typeHint: 'UUID' },
        { name: 'at', value: { stringValue: '2026-02-08 12:32:15.123' }, typeHint: 'TIMESTAMP' },
        { name: 'doc', value: { stringValue: '{"a":[1,2]}' }, typeHint: 'JSON' },
        { name: 'name', value: { stringValue: 'login' } },
        { name: 'n', value: { longValue: 42 } },
        { name: 'ratio', value: { doubleValue: 0.5 } },
        { name: 'flag', value: { booleanValue: true } },
        { name: 'nothing', value: { isNull: true } },
      ],
    });
  });

  it('retries while Aurora resumes, with growing waits, then answers', async () => {
    rds
      .on(ExecuteStatementCommand)
      .rejectsOnce(resuming())
      .rejectsOnce(Object.assign(new Error('timeout'), { name: 'StatementTimeoutException' }))
      .rejectsOnce(resuming())
      .resolves({ formattedRecords: '[{"ok":true}]' });
    const retry = virtualTime();
    const db = dataApiDatabase(new RDSDataClient({}), TARGET, retry);
    expect(await db.query('SELECT true AS ok')).toEqual([{ ok: true }]);
    expect(rds.commandCalls(ExecuteStatementCommand)).toHaveLength(4);
    expect(retry.slept).toEqual([250, 500, 1000]);
  });

  it('gives up when the time budget is spent, and the API answers 503 with Retry-After', async () => {
    rds.on(ExecuteStatementCommand).rejects(resuming());
    const retry = virtualTime(10_000);
    const db = dataApiDatabase(new RDSDataClient({}), TARGET, retry);
    await expect(db.query('SELECT 1')).rejects.toBeInstanceOf(DatabaseUnavailableError);
    expect(retry.slept.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(10_000);
    expect(retry.slept).toEqual([250, 500, 1000, 2000, 4000]);

    const ingest = createIngestHandler(testDeps(db));
    const result = await ingest(post('/metrics/interaction', { user_id: '9b2f1c3e-8a4d-4e5f-9a6b-7c8d9e0f1a2b', interaction_type: 'login' }));
    expect(result.statusCode).toBe(503);
    expect(result.headers).toMatchObject({ 'retry-after': String(RETRY_AFTER_SECONDS) });
    expect(JSON.parse(result.body)).toEqual({ error: 'database_unavailable', message: 'the database is not available yet; retry shortly' });
  });

  it('runs a statement again after a deadlock rolled it back', async () => {
    rds
      .on(ExecuteStatementCommand)
      .rejectsOnce(Object.assign(new Error('ERROR: deadlock detected; SQLState: 40P01'), { name: 'DatabaseErrorException' }))
      .resolves({ formattedRecords: '[{"ok":true}]' });
    const retry = virtualTime();
    const db = dataApiDatabase(new RDSDataClient({}), TARGET, retry);
    expect(await db.query('SELECT * FROM record_interactions(:interactions::jsonb)', { interactions: json([]) })).toEqual([{ ok: true }]);
    expect(rds.commandCalls(ExecuteStatementCommand)).toHaveLength(2);
  });

  it('inside a transaction retries only a resume: any other failure has already aborted it (an outage still answers 503)', async () => {
    rds.on(BeginTransactionCommand).resolves({ transactionId: 'tx-3' });
    rds.on(ExecuteStatementCommand).rejects(Object.assign(new Error('timeout'), { name: 'StatementTimeoutException' }));
    rds.on(RollbackTransactionCommand).resolves({});
    const retry = virtualTime();
    const db = dataApiDatabase(new RDSDataClient({}), TARGET, retry);
    await expect(db.transaction((tx) => tx.query('CREATE INDEX big ON interactions (metadata)'))).rejects.toBeInstanceOf(DatabaseUnavailableError);
    expect(rds.commandCalls(ExecuteStatementCommand)).toHaveLength(1);
    expect(retry.slept).toEqual([]);
  });

  it('does not retry errors that a retry cannot fix', async () => {
    rds.on(ExecuteStatementCommand).rejects(Object.assign(new Error('syntax error'), { name: 'BadRequestException' }));
    const retry = virtualTime();
    const db = dataApiDatabase(new RDSDataClient({}), TARGET, retry);
    await expect(db.query('SELEC 1')).rejects.toThrow('syntax error');
    expect(rds.calls()).toHaveLength(1);
    expect(retry.slept).toEqual([]);
  });

  it('runs a transaction as begin, statements with its id, commit', async () => {
    rds.on(BeginTransactionCommand).resolves({ transactionId: 'tx-1' });
    rds.on(ExecuteStatementCommand).resolves({ numberOfRecordsUpdated: 0 });
    rds.on(CommitTransactionCommand).resolves({ transactionStatus: 'Transaction Committed' });
    const db = dataApiDatabase(new RDSDataClient({}), TARGET);
    await db.transaction(async (tx) => {
      await tx.query('CREATE TABLE a (id int)');
    });
    expect(rds.commandCalls(BeginTransactionCommand)[0]!.args[0].input).toEqual(TARGET);
    expect(rds.commandCalls(ExecuteStatementCommand)[0]!.args[0].input).toMatchObject({ transactionId: 'tx-1', sql: 'CREATE TABLE a (id int)' });
    expect(rds.commandCalls(CommitTransactionCommand)[0]!.args[0].input).toEqual({
      resourceArn: TARGET.resourceArn,
      secretArn: TARGET.secretArn,
      transactionId: 'tx-1',
    });
    expect(rds.commandCalls(RollbackTransactionCommand)).toHaveLength(0);
  });

  it('never reads an answer without rows or a count as "no rows"', async () => {
    rds.on(ExecuteStatementCommand).resolves({});
    const db = dataApiDatabase(new RDSDataClient({}), TARGET);
    await expect(db.query('SELECT 1 AS one')).rejects.toBeInstanceOf(UnreadableResultError);
    await expect(db.query('INSERT INTO a VALUES (1)')).rejects.toBeInstanceOf(UnreadableResultError);
    rds.on(ExecuteStatementCommand).resolves({ numberOfRecordsUpdated: 1 });
    await expect(db.query('INSERT INTO a VALUES (1) RETURNING id')).rejects.toBeInstanceOf(UnreadableResultError);
    expect(await db.query('INSERT INTO a VALUES (1)')).toEqual([]);
  });

  it('asks for JSON only of a statement that begins with SELECT, and for records with their column names otherwise', async () => {
    rds.on(ExecuteStatementCommand).resolves({ numberOfRecordsUpdated: 0, formattedRecords: '[]', records: [], columnMetadata: [] });
    const db = dataApiDatabase(new RDSDataClient({}), TARGET);
    await db.query('/* a comment */ (SELECT 1 AS one)');
    // Whether AWS takes WITH ... SELECT for "a SELECT statement" is not documented: records work either way.
    await db.query('/* a comment */ WITH x AS (SELECT 1) SELECT * FROM x');
    await db.query('UPDATE a SET id = 2 RETURNING id');
    const sent = rds.commandCalls(ExecuteStatementCommand).map((call) => call.args[0].input);
    expect(sent[0]).toMatchObject({ formatRecordsAs: 'JSON' });
    expect(sent[0]).not.toHaveProperty('includeResultMetadata');
    for (const input of sent.slice(1)) {
      expect(input).toMatchObject({ includeResultMetadata: true });
      expect(input).not.toHaveProperty('formatRecordsAs');
    }
    expect(sent.every((input) => !('continueAfterTimeout' in input))).toBe(true);
  });

  it('rolls a failed transaction back and passes the error on', async () => {
    rds.on(BeginTransactionCommand).resolves({ transactionId: 'tx-2' });
    rds.on(ExecuteStatementCommand).rejects(Object.assign(new Error('duplicate'), { name: 'BadRequestException' }));
    rds.on(RollbackTransactionCommand).resolves({});
    const db = dataApiDatabase(new RDSDataClient({}), TARGET);
    await expect(db.transaction((tx) => tx.query('INSERT INTO a VALUES (1)'))).rejects.toThrow('duplicate');
    expect(rds.commandCalls(RollbackTransactionCommand)[0]!.args[0].input).toMatchObject({ transactionId: 'tx-2' });
    expect(rds.commandCalls(CommitTransactionCommand)).toHaveLength(0);
  });
});

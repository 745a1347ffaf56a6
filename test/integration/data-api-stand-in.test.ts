import {
  BeginTransactionCommand,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  RollbackTransactionCommand,
  type ExecuteStatementCommandInput,
  type ExecuteStatementCommandOutput,
} from '@aws-sdk/client-rds-data';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataApiDatabase, RETRY_AFTER_SECONDS } from '../../functions/db/data-api.js';
import { createMetricsHandler } from '../../functions/handlers/metrics.js';
import { claimCheckIn, markCheckInPosted } from '../../functions/db/check-ins.js';
import { loadSchema, migrate } from '../../functions/db/migrate.js';
import { readHeadline } from '../../functions/db/metrics.js';
import { DatabaseUnavailableError, uuid, type Database } from '../../functions/db/port.js';
import { SQL_DIR } from '../../functions/local/service.js';
import {
  dataApiStandInDatabase,
  LOOSE_READING,
  openDataApiStandIn,
  quickRetry,
  type DataApiStandIn,
  type OutageType,
} from '../support/data-api-stand-in.js';
import { get, testDeps } from '../support/harness.js';
import { createTestDatabase } from '../support/postgres.js';

const USER = '9b2f1c3e-8a4d-4e5f-9a6b-7c8d9e0f1a2b';
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let url: string;
let drop: () => Promise<void>;
let standIn: DataApiStandIn;
/** The same database under the looser reading of what the documentation leaves open. */
let loose: DataApiStandIn;
type Input = Omit<ExecuteStatementCommandInput, 'resourceArn' | 'secretArn' | 'database'>;
/** The real client, sending what the test writes: the stand-in's answers, unmediated by the adapter. */
let execute: (input: Input) => Promise<ExecuteStatementCommandOutput>;
let executeLoosely: (input: Input) => Promise<ExecuteStatementCommandOutput>;

beforeAll(async () => {
  ({ url, drop } = await createTestDatabase());
  standIn = await openDataApiStandIn(url, { statementTimeoutMs: 400 });
  loose = await openDataApiStandIn(url, { statementTimeoutMs: 400, reading: LOOSE_READING });
  execute = (input) => standIn.client.send(new ExecuteStatementCommand({ ...standIn.target, ...input }));
  executeLoosely = (input) => loose.client.send(new ExecuteStatementCommand({ ...loose.target, ...input }));
  await migrate(dataApiDatabase(standIn.client, standIn.target, undefined, { continueAfterTimeout: true }), await loadSchema(SQL_DIR));
  await standIn.db.query('CREATE TABLE notes (body text)');
});

afterAll(async () => {
  await Promise.all([standIn?.close(), loose?.close()]);
  await drop?.();
});

const failureOf = (promise: Promise<unknown>) =>
  promise.then(
    () => ({ name: 'none', message: '' }),
    (error: Error) => ({ name: error.name, message: error.message }),
  );

describe('the Data API stand-in enforces the documented rules', () => {
  it('runs one statement per call', async () => {
    expect(await failureOf(execute({ sql: 'SELECT 1; SELECT 2' }))).toEqual({ name: 'BadRequestException', message: "Multistatements aren't supported." });
  });

  it('binds parameters by typeHint, checks the TIMESTAMP format, and binds an untyped string as text', async () => {
    const at = { name: 'at', value: { stringValue: '2026-02-08T12:00:00Z' }, typeHint: 'TIMESTAMP' as const };
    expect((await failureOf(execute({ sql: 'SELECT :at::text AS at', parameters: [at] }))).name).toBe('BadRequestException');
    // A uuid column (user ids are text since sql/migrations/002): compared with an untyped string, as on AWS, it fails.
    const uuids = `SELECT count(*) AS n FROM (VALUES ('${USER}'::uuid)) AS v(id) WHERE id = :id`;
    const untyped = await failureOf(standIn.db.query(uuids, { id: USER }));
    expect(untyped).toMatchObject({ name: 'DatabaseErrorException', message: expect.stringContaining('uuid = text') });
    expect(await standIn.db.query(uuids, { id: uuid(USER) })).toEqual([{ n: 1 }]);
    const typed = await execute({
      sql: 'SELECT pg_typeof(:d)::text AS d, pg_typeof(:t)::text AS t, pg_typeof(:n)::text AS n, pg_typeof(:j)::text AS j',
      formatRecordsAs: 'JSON',
      parameters: [
        { name: 'd', value: { stringValue: '2026-02-08' }, typeHint: 'DATE' },
        { name: 't', value: { stringValue: '12:30:00' }, typeHint: 'TIME' },
        { name: 'n', value: { stringValue: '1.50' }, typeHint: 'DECIMAL' },
        { name: 'j', value: { stringValue: '{"a":1}' }, typeHint: 'JSON' },
      ],
    });
    expect(JSON.parse(typed.formattedRecords!)).toEqual([{ d: 'date', t: 'time without time zone', n: 'numeric', j: 'json' }]);
  });

  it('formats records as AWS documents: numbers for integers, strings for numeric, json, uuid, zone-less timestamps', async () => {
    const output = await execute({
      sql: `SELECT 1::int2 AS a, 2::int8 AS b, 1.50::numeric AS c, '{"k": [1]}'::jsonb AS d, '${USER}'::uuid AS e,
                   '2026-02-08 14:32:15.123456'::timestamp AS f, true AS g, 0.5::float8 AS h, NULL::text AS i`,
      formatRecordsAs: 'JSON',
    });
    expect(JSON.parse(output.formattedRecords!)).toEqual([
      { a: 1, b: 2, c: '1.50', d: '{"k": [1]}', e: USER, f: '2026-02-08 14:32:15.123456', g: true, h: 0.5, i: null },
    ]);
    expect(output.records).toBeUndefined();
    expect(output.columnMetadata).toBeUndefined();
    // Through the adapter, the port's readers turn the text back into a Date and a number.
    expect(await readHeadline(standIn.db, { userIds: new Set(), emailDomains: new Set() })).toEqual({ lastRealInteractionAt: null, totalRealUsers: 0 });
  });

  it('refuses a timestamptz column (TIMESTAMP is on the documented list, TIMESTAMPTZ is not); the looser reading returns UTC text', async () => {
    const sql = "SELECT '2026-02-08 14:32:15.123456+02'::timestamptz AS at";
    expect(await failureOf(execute({ sql, formatRecordsAs: 'JSON' }))).toEqual({
      name: 'UnsupportedResultException',
      message: 'The result contains the unsupported data type timestamptz (column at).',
    });
    expect(JSON.parse((await executeLoosely({ sql, formatRecordsAs: 'JSON' })).formattedRecords!)).toEqual([{ at: '2026-02-08 12:32:15.123456' }]);
    expect((await executeLoosely({ sql, includeResultMetadata: true })).records).toEqual([[{ stringValue: '2026-02-08 12:32:15.123456' }]]);
  });

  it('formats JSON only for a statement that begins with SELECT; the looser reading takes any statement PostgreSQL calls a SELECT', async () => {
    const statements = {
      plain: 'SELECT 1 AS one',
      parenthesised: '(SELECT 1 AS one)',
      withSelect: 'WITH x AS (SELECT 1 AS one) SELECT one FROM x',
      values: 'VALUES (1)',
      withInsert: "WITH claimed AS (INSERT INTO notes (body) VALUES ('with') RETURNING body) SELECT body FROM claimed",
    };
    const formatted = async (run: typeof execute, sql: string) => (await run({ sql, formatRecordsAs: 'JSON' })).formattedRecords !== undefined;
    const strictly: Record<string, boolean> = {};
    const loosely: Record<string, boolean> = {};
    for (const [name, sql] of Object.entries(statements)) {
      strictly[name] = await formatted(execute, sql);
      loosely[name] = await formatted(executeLoosely, sql);
    }
    expect(strictly).toEqual({ plain: true, parenthesised: true, withSelect: false, values: false, withInsert: false });
    expect(loosely).toEqual({ plain: true, parenthesised: true, withSelect: true, values: true, withInsert: true });
    // Records, with their column names, come back for any of them under either reading.
    for (const run of [execute, executeLoosely]) {
      const output = await run({ sql: statements.withSelect, includeResultMetadata: true });
      expect({ records: output.records, names: output.columnMetadata?.map((column) => column.name) }).toEqual({ records: [[{ longValue: 1 }]], names: ['one'] });
    }
    await standIn.db.query("DELETE FROM notes WHERE body = 'with'");
  });

  it('gives no formattedRecords for a statement other than SELECT, and records only without JSON', async () => {
    const insert = "INSERT INTO notes (body) VALUES ('returned') RETURNING body";
    const asJson = await execute({ sql: insert, formatRecordsAs: 'JSON' });
    expect(asJson).toMatchObject({ numberOfRecordsUpdated: 1 });
    expect(asJson.formattedRecords).toBeUndefined();
    expect(asJson.records).toBeUndefined();
    const asRecords = await execute({ sql: insert, includeResultMetadata: true });
    expect(asRecords.records).toEqual([[{ stringValue: 'returned' }]]);
    expect(asRecords.columnMetadata).toMatchObject([{ name: 'body', typeName: 'text' }]);
  });

  it.each([
    ['void', 'SELECT pg_sleep(0)'],
    ['regclass', "SELECT 'notes'::regclass"],
    ['"char"', `SELECT 'a'::"char"`],
    ['an array', 'SELECT ARRAY[1, 2] AS list'],
    ['interval', "SELECT interval '1 day' AS span"],
  ])('refuses a result column of type %s with UnsupportedResultException', async (_type, sql) => {
    expect((await failureOf(execute({ sql, formatRecordsAs: 'JSON' }))).name).toBe('UnsupportedResultException');
  });

  it('refuses sql longer than 65,536 characters before running any of it, and runs one of exactly 65,536', async () => {
    const padded = (sql: string, length: number) => `${sql} /*${'x'.repeat(length - sql.length - 5)}*/`;
    const insert = "INSERT INTO notes (body) VALUES ('long')";
    expect(padded(insert, 65_537)).toHaveLength(65_537);
    expect(await failureOf(execute({ sql: padded(insert, 65_537) }))).toEqual({
      name: 'ValidationException',
      message: "1 validation error detected: Value at 'sql' failed to satisfy constraint: Member must have length less than or equal to 65536",
    });
    expect(await standIn.db.query("SELECT count(*) AS n FROM notes WHERE body = 'long'")).toEqual([{ n: 0 }]);
    expect(await execute({ sql: padded(insert, 65_536) })).toMatchObject({ numberOfRecordsUpdated: 1 });
    await standIn.db.query("DELETE FROM notes WHERE body = 'long'");
  });

  it('refuses a row over 64 KB, a response over 1 MiB and a request over 4 MiB (which changes nothing)', async () => {
    expect(await failureOf(execute({ sql: "SELECT repeat('x', 70000) AS big", formatRecordsAs: 'JSON' }))).toEqual({
      name: 'BadRequestException',
      message: 'Packet for query is too large',
    });
    expect(await failureOf(execute({ sql: "SELECT repeat('x', 60000) AS part FROM generate_series(1, 20)", formatRecordsAs: 'JSON' }))).toEqual({
      name: 'BadRequestException',
      message: 'Database response exceeded size limit',
    });
    const big = { name: 'body', value: { stringValue: 'x'.repeat(4 * 1024 * 1024) } };
    expect((await failureOf(execute({ sql: 'INSERT INTO notes (body) VALUES (:body)', parameters: [big] }))).name).toBe('BadRequestException');
    expect(await standIn.db.query('SELECT count(*) AS n FROM notes WHERE length(body) > 1000')).toEqual([{ n: 0 }]);
  });

  it('cancels a statement at the call timeout, unless told to continue after it', async () => {
    const late = (body: string) => `INSERT INTO notes (body) SELECT '${body}' FROM pg_sleep(0.8)`;
    expect((await failureOf(execute({ sql: late('cancelled') }))).name).toBe('StatementTimeoutException');
    expect((await failureOf(execute({ sql: late('continued'), continueAfterTimeout: true }))).name).toBe('StatementTimeoutException');
    await wait(1_000);
    const rows = await standIn.db.query<{ body: string }>("SELECT body FROM notes WHERE body IN ('cancelled', 'continued')");
    expect(rows).toEqual([{ body: 'continued' }]);
  });

  it('keeps no session state between autocommit calls, and keeps a transaction on one connection', async () => {
    await standIn.db.query("SELECT set_config('days_since.probe', 'set', false) AS probe");
    const later = await standIn.db.query("SELECT coalesce(current_setting('days_since.probe', true), '') AS probe");
    expect(later).toEqual([{ probe: '' }]);
    const inside = await standIn.db.transaction(async (tx) => {
      await tx.query("SELECT set_config('days_since.probe', 'set', false) AS probe");
      return tx.query("SELECT current_setting('days_since.probe', true) AS probe");
    });
    expect(inside).toEqual([{ probe: 'set' }]);
  });

  it('refuses a call that reaches a transaction whose statement still runs, commit included, until it has ended', async () => {
    const { transactionId } = await standIn.client.send(new BeginTransactionCommand(standIn.target));
    const sleeper = "INSERT INTO notes (body) SELECT 'outlived' FROM pg_sleep(0.8)";
    expect((await failureOf(execute({ sql: sleeper, transactionId, continueAfterTimeout: true }))).name).toBe('StatementTimeoutException');
    const stillRunning = { name: 'DatabaseErrorException', message: 'Transaction is still running a query' };
    expect(await failureOf(execute({ sql: 'SELECT 1 AS one', transactionId }))).toEqual(stillRunning);
    expect(await failureOf(standIn.client.send(new CommitTransactionCommand({ ...standIn.target, transactionId })))).toEqual(stillRunning);
    await wait(800);
    expect(await execute({ sql: 'SELECT count(*) AS n FROM notes WHERE body = :body', parameters: [{ name: 'body', value: { stringValue: 'outlived' } }], transactionId, formatRecordsAs: 'JSON' })).toMatchObject({
      formattedRecords: '[{"n":1}]',
    });
    await standIn.client.send(new CommitTransactionCommand({ ...standIn.target, transactionId }));
    // Two statements sent at once into one transaction: the second is refused, as users of the Data API report.
    const { transactionId: other } = await standIn.client.send(new BeginTransactionCommand(standIn.target));
    const both = await Promise.all([failureOf(execute({ sql: 'SELECT pg_sleep(0.2)::text AS slept', transactionId: other })), failureOf(execute({ sql: 'SELECT 2 AS two', transactionId: other }))]);
    expect(both.map((outcome) => outcome.message)).toContain(stillRunning.message);
    await standIn.client.send(new RollbackTransactionCommand({ ...standIn.target, transactionId: other })).catch(() => {});
    await standIn.db.query("DELETE FROM notes WHERE body = 'outlived'");
  });

  it('ends a transaction whose call failed: later calls find it gone', async () => {
    const { transactionId } = await standIn.client.send(new BeginTransactionCommand(standIn.target));
    expect((await failureOf(execute({ sql: 'SELECT 1 / 0 AS boom', transactionId }))).name).toBe('DatabaseErrorException');
    expect(await failureOf(execute({ sql: 'SELECT 1 AS one', transactionId }))).toEqual({ name: 'NotFoundException', message: `Transaction ${transactionId} is not found` });
  });

  it('answers DatabaseResumingException while paused; the adapter waits it out inside its budget, or says unavailable', async () => {
    const patient = dataApiDatabase(standIn.client, standIn.target, quickRetry(5_000));
    const before = standIn.calls.length;
    standIn.pauseFor(300);
    expect(await patient.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    const answers = standIn.calls.slice(before).map((call) => call.error ?? 'ok');
    expect(answers.at(-1)).toBe('ok');
    expect(answers.slice(0, -1).every((answer) => answer === 'DatabaseResumingException') && answers.length > 1).toBe(true);

    standIn.pauseFor(2_000);
    await expect(dataApiDatabase(standIn.client, standIn.target, quickRetry(200)).query('SELECT 1 AS one')).rejects.toBeInstanceOf(DatabaseUnavailableError);
    standIn.pauseFor(0);
  });

  it.each([
    ['DatabaseUnavailableException', 504],
    ['InvalidResourceStateException', 400],
    ['ServiceUnavailableError', 503],
  ] as Array<[OutageType, number]>)('answers %s (HTTP %i) while the cluster cannot serve; the adapter waits it out inside its budget, or says unavailable', async (type, status) => {
    standIn.outageFor(type, 60_000);
    const refused = await standIn.client.send(new ExecuteStatementCommand({ ...standIn.target, sql: 'SELECT 1 AS one' })).catch((error: Error & { $metadata: { httpStatusCode?: number } }) => error);
    expect({ name: (refused as Error).name, status: (refused as { $metadata: { httpStatusCode?: number } }).$metadata.httpStatusCode }).toEqual({ name: type, status });
    await expect(dataApiDatabase(standIn.client, standIn.target, quickRetry(300)).query('SELECT 1 AS one')).rejects.toBeInstanceOf(DatabaseUnavailableError);
    // Through a handler: 503 with Retry-After, never a 500.
    const metrics = createMetricsHandler(testDeps(dataApiDatabase(standIn.client, standIn.target, quickRetry(300))));
    const answered = await metrics(get('/metrics/days-since-last-interaction'));
    expect({ status: answered.statusCode, retryAfter: answered.headers?.['retry-after'] }).toEqual({ status: 503, retryAfter: String(RETRY_AFTER_SECONDS) });

    standIn.outageFor(type, 400);
    const before = standIn.calls.length;
    expect(await dataApiDatabase(standIn.client, standIn.target, quickRetry(5_000)).query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    expect(standIn.calls.slice(before).map((call) => call.error ?? 'ok')).toEqual(expect.arrayContaining([type, 'ok']));
    standIn.outageFor(type, 0);
  });
});

describe('dataApiStandInDatabase', () => {
  it('is a database of its own, migrated through the stand-in, answering the port and dropped on close', async () => {
    const db: Database = await dataApiStandInDatabase();
    const [row] = await db.query<{ name: string; migrations: number }>('SELECT current_database() AS name, count(*) AS migrations FROM schema_migrations');
    expect(row!.migrations).toBe((await loadSchema(SQL_DIR)).migrations.length);
    expect(await db.transaction((tx) => tx.query('SELECT users FROM real_user_count'))).toEqual([{ users: 0 }]);
    await db.close();
    const [left] = await standIn.db.query<{ n: number }>('SELECT count(*) AS n FROM pg_database WHERE datname = :name', { name: row!.name });
    expect(left!.n).toBe(0);
  });
});

describe('defects of issue 8, through the stand-in', () => {
  it('1: the migrator takes its lock with a statement whose result the Data API can return', async () => {
    const { url: emptyUrl, drop: dropEmpty } = await createTestDatabase();
    const fresh = await openDataApiStandIn(emptyUrl);
    try {
      const sql = await loadSchema(SQL_DIR);
      const report = await migrate(dataApiDatabase(fresh.client, fresh.target), sql);
      expect(report).toMatchObject({ applied: sql.migrations.map((m) => m.name), defined: sql.functions.map((f) => f.name) });
      // The migrator's own lock statement, not a migration whose function body mentions advisory locks.
      const locks = fresh.calls.filter((call) => /^SELECT [^;]*pg_advisory_xact_lock\(hashtext\('days-since schema_migrations'\)\)/.test(call.input.sql ?? ''));
      // One per transaction: each migration's, and the functions'.
      expect(locks).toHaveLength(sql.migrations.length + 1);
      expect(locks.every((call) => call.error === undefined)).toBe(true);
    } finally {
      await fresh.close();
      await dropEmpty();
    }
  });

  it('3: rows a statement returns are read whatever the answer’s shape, under either reading of "a SELECT statement"', async () => {
    for (const db of [standIn.db, loose.db]) {
      expect(await db.query("INSERT INTO notes (body) VALUES ('kept') RETURNING body")).toEqual([{ body: 'kept' }]);
      expect(await db.query("UPDATE notes SET body = 'kept' WHERE body = 'none'")).toEqual([]);
      expect(await db.query("WITH x AS (SELECT 1) INSERT INTO notes (body) SELECT 'cte' FROM x RETURNING body")).toEqual([{ body: 'cte' }]);
      expect(await db.query('WITH x AS (SELECT 2 AS two) SELECT two FROM x')).toEqual([{ two: 2 }]);
    }

    const now = new Date('2026-02-13T07:00:05.000Z');
    const snapshot = { slot: new Date('2026-02-13T07:00:00.000Z'), days: 1.5, status: 'warning' as const, dau: 1, wau: 2, mau: 3, totalRealUsers: 4, newRealUsers: 1 };
    expect(await claimCheckIn(standIn.db, snapshot, now, 120_000)).toBe('claimed');
    expect(await claimCheckIn(standIn.db, snapshot, new Date(now.getTime() + 1_000), 120_000)).toBe('held');
    await markCheckInPosted(standIn.db, snapshot.slot, now);
    expect(await claimCheckIn(standIn.db, snapshot, new Date(now.getTime() + 300_000), 120_000)).toBe('posted');
  });

  it('5: a migration statement that outlives the call timeout is waited for, not cut off', async () => {
    const slow = { migrations: [{ name: '001_slow.sql', sql: 'CREATE TABLE slow_backfill AS SELECT 1 AS x FROM pg_sleep(1.2);' }], functions: [] };
    const { url: emptyUrl, drop: dropEmpty } = await createTestDatabase();
    const fresh = await openDataApiStandIn(emptyUrl, { statementTimeoutMs: 400 });
    try {
      // Cut off at the call timeout (StatementTimeoutException, below), which callers are told as an outage.
      await expect(migrate(dataApiDatabase(fresh.client, fresh.target), slow)).rejects.toBeInstanceOf(DatabaseUnavailableError);
      const migrator = dataApiDatabase(fresh.client, fresh.target, undefined, { continueAfterTimeout: true });
      expect(await migrate(migrator, slow)).toEqual({ applied: ['001_slow.sql'], alreadyApplied: [], defined: [], dropped: [] });
      expect(await fresh.db.query('SELECT x FROM slow_backfill')).toEqual([{ x: 1 }]);
      const sent = fresh.calls.filter((call) => call.input.sql?.startsWith('CREATE TABLE slow_backfill'));
      expect(sent.map((call) => [call.input.continueAfterTimeout ?? false, call.error])).toEqual([
        [false, 'StatementTimeoutException'],
        [true, 'StatementTimeoutException'],
      ]);
      // While it ran, the transaction refused the migrator's next call ("still running"); it asked again until it could.
      const waits = fresh.calls.filter((call) => call.input.sql === 'SELECT 1 AS done').map((call) => call.error ?? 'ok');
      expect(waits.at(-1)).toBe('ok');
      expect(waits.slice(0, -1)).toContain('DatabaseErrorException');
      expect(new Set(waits.slice(0, -1))).toEqual(new Set(['DatabaseErrorException']));
    } finally {
      await fresh.close();
      await dropEmpty();
    }
  });
});

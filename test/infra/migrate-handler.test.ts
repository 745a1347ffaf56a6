import { BeginTransactionCommand, CommitTransactionCommand, ExecuteStatementCommand, RDSDataClient, RollbackTransactionCommand } from '@aws-sdk/client-rds-data';
import { mockClient } from 'aws-sdk-client-mock';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dataApiDatabase, type RetryPolicy } from '../../functions/db/data-api.js';
import { DatabaseUnavailableError } from '../../functions/db/port.js';
import { loadSchema, splitStatements } from '../../functions/db/migrate.js';
import { createMigrateHandler, DEPLOY_RETRY, migrationDatabase, schemaDigest } from '../../functions/handlers/migrate.js';
import { SQL_DIR } from '../../lib/days-since-app.js';
import { MIGRATION_TIMEOUT } from '../../lib/migrations.js';
import { openDataApiStandIn } from '../support/data-api-stand-in.js';
import { freshPglite } from '../support/pglite-template.js';
import { createTestDatabase } from '../support/postgres.js';

const quiet = { info: () => {} };

const TARGET = {
  resourceArn: 'arn:aws:rds:eu-west-1:123456789012:cluster:days-since',
  secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:days-since-AbCdEf',
  database: 'days_since',
};

/** What a Data API that answers every call finds: a new database, where the function ledger is yet to be made. */
const answer = (input: { sql?: string }) => ({
  formattedRecords: input.sql?.includes("to_regclass('schema_definitions') IS NOT NULL AS found") ? '[{"found":false}]' : '[]',
});

/** The deploy-time handler over the Data API (mocked by the caller), retrying with `retry`. */
async function migratorOverDataApi(retry: RetryPolicy) {
  const sql = await loadSchema(SQL_DIR);
  const migrateNow = createMigrateHandler({
    db: dataApiDatabase(new RDSDataClient({ region: 'eu-west-1' }), TARGET, retry),
    sqlDir: SQL_DIR,
    expectedDigest: schemaDigest(sql),
    log: quiet,
  });
  return { sql, migrateNow };
}

describe('the deploy-time migration handler', () => {
  it('applies sql/ with the same runner as the local run, then finds nothing left to do', async () => {
    const db = await freshPglite();
    const sql = await loadSchema(SQL_DIR);
    const migrateNow = createMigrateHandler({ db, sqlDir: SQL_DIR, expectedDigest: schemaDigest(sql), log: quiet });
    const names = sql.migrations.map((m) => m.name);
    const functions = sql.functions.map((f) => f.name);
    expect(await migrateNow()).toEqual({ applied: names, alreadyApplied: [], defined: functions, dropped: [] });
    expect(await migrateNow()).toEqual({ applied: [], alreadyApplied: names, defined: [], dropped: [] });
    const [row] = await db.query<{ n: unknown }>('SELECT count(*)::int AS n FROM real_user_count');
    expect(row?.n).toBe(1);
    await db.close();
  });

  it('applies nothing when sql/ is not the one the deployment was synthesized from', async () => {
    const db = await freshPglite();
    const migrateNow = createMigrateHandler({ db, sqlDir: SQL_DIR, expectedDigest: '0'.repeat(64), log: quiet });
    await expect(migrateNow()).rejects.toThrow(/^the sql\/ bundled here \(sha256 [0-9a-f]{64}\) is not the one/);
    expect(await db.query("SELECT to_regclass('schema_migrations') AS t")).toEqual([{ t: null }]);
    await db.close();
  });

  it('fingerprints folders, names and contents, in order', () => {
    const a = { name: '001_a.sql', sql: 'CREATE TABLE a (id int);' };
    const b = { name: '002_b.sql', sql: 'CREATE TABLE b (id int);' };
    const f = { name: 'f.sql', sql: 'CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;' };
    const digest = (migrations: (typeof a)[], functions: (typeof a)[] = [f]) => schemaDigest({ migrations, functions });
    expect(digest([a, b])).toBe(digest([{ ...a }, { ...b }], [{ ...f }]));
    expect(digest([a, b])).not.toBe(digest([b, a]));
    expect(digest([a])).not.toBe(digest([{ ...a, name: '001_c.sql' }]));
    expect(digest([a])).not.toBe(digest([{ ...a, sql: `${a.sql} ` }]));
    expect(digest([a])).not.toBe(digest([a], [{ ...f, sql: `${f.sql} ` }]));
    expect(digest([a])).not.toBe(digest([a], [f, { ...f, name: 'g.sql' }]));
    // The same file in the other folder is another schema: applied once, or again whenever it changes.
    expect(digest([a], [f])).not.toBe(digest([a, f], []));
  });

  it('waits out a resuming Aurora through the Data API, one transaction per migration', async () => {
    const rds = mockClient(RDSDataClient);
    try {
      const target = TARGET;
      let now = 0;
      const retry: RetryPolicy = { ...DEPLOY_RETRY, random: () => 1, now: () => now, sleep: async (ms) => void (now += ms) };
      const resuming = Object.assign(new Error('resuming'), { name: 'DatabaseResumingException' });
      rds.on(ExecuteStatementCommand).rejectsOnce(resuming).rejectsOnce(resuming).callsFake(answer);
      rds.on(BeginTransactionCommand).resolves({ transactionId: 'tx-1' });
      rds.on(CommitTransactionCommand).resolves({});

      const { sql, migrateNow } = await migratorOverDataApi(retry);
      expect(await migrateNow()).toMatchObject({ applied: sql.migrations.map((m) => m.name), defined: sql.functions.map((f) => f.name) });

      const sent = rds.commandCalls(ExecuteStatementCommand).map((call) => call.args[0].input);
      // The first statement, refused twice while Aurora resumed, was sent again as it was.
      expect(sent[2]).toEqual(sent[0]);
      // The ledger is created inside the first migration's transaction, after its lock: nothing runs before it.
      const ledger = sent.findIndex((input) => input.sql?.includes('CREATE TABLE IF NOT EXISTS schema_migrations'));
      expect(ledger).toBeGreaterThan(0);
      expect(sent.slice(0, ledger + 1).every((input) => input.transactionId === 'tx-1' && input.resourceArn === target.resourceArn)).toBe(true);
      for (const statement of [...sql.migrations, ...sql.functions].flatMap((file) => splitStatements(file.sql))) {
        expect(sent).toContainEqual(expect.objectContaining({ ...target, sql: statement, transactionId: 'tx-1' }));
      }
      // One transaction per migration, and one for all the functions.
      const transactions = sql.migrations.length + 1;
      expect(rds.commandCalls(BeginTransactionCommand)).toHaveLength(transactions);
      expect(rds.commandCalls(CommitTransactionCommand).map((call) => call.args[0].input)).toEqual(
        Array.from({ length: transactions }, () => ({ resourceArn: target.resourceArn, secretArn: target.secretArn, transactionId: 'tx-1' })),
      );
      expect(now).toBeGreaterThan(0);
    } finally {
      rds.restore();
    }
  });

  it('waits, through the Data API\'s "still running" answers, for a migration statement that outlives the call timeout', async () => {
    // A call timeout of 400 ms stands for AWS's 45 s; the statement takes three times that.
    const dir = await mkdtemp(join(tmpdir(), 'days-since-slow-sql-'));
    await mkdir(join(dir, 'migrations'));
    await mkdir(join(dir, 'functions'));
    await writeFile(join(dir, 'migrations', '001_slow_backfill.sql'), 'CREATE TABLE slow_backfill AS SELECT 1 AS x FROM pg_sleep(1.2);');
    const { url, drop } = await createTestDatabase();
    const standIn = await openDataApiStandIn(url, { statementTimeoutMs: 400 });
    try {
      const migrateNow = createMigrateHandler({
        db: migrationDatabase(standIn.client, standIn.target),
        sqlDir: dir,
        expectedDigest: schemaDigest(await loadSchema(dir)),
        log: quiet,
      });
      expect(await migrateNow()).toEqual({ applied: ['001_slow_backfill.sql'], alreadyApplied: [], defined: [], dropped: [] });
      expect(await standIn.db.query('SELECT x FROM slow_backfill')).toEqual([{ x: 1 }]);
      const answers = standIn.calls.filter((call) => call.operation === 'ExecuteStatement').map((call) => call.error ?? 'ok');
      expect(answers).toContain('StatementTimeoutException');
      expect(answers).toContain('DatabaseErrorException');
      expect(standIn.calls.filter((call) => call.error === 'DatabaseErrorException').every((call) => call.input.sql === 'SELECT 1 AS done')).toBe(true);
    } finally {
      await standIn.close();
      await drop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  describe('against a database that stays asleep', () => {
    // Each refused call itself takes a few seconds: the Data API holds it while Aurora resumes.
    const CALL_MS = 5_000;

    /** The handler with the deploy retry policy, a clock it moves, and a Data API that refuses until `wakesAtMs`. */
    async function sleepyDeploy(wakesAtMs: number) {
      const rds = mockClient(RDSDataClient);
      let now = 0;
      const waits: number[] = [];
      const resuming = () => Object.assign(new Error('resuming'), { name: 'DatabaseResumingException' });
      rds.on(ExecuteStatementCommand).callsFake(async (input: { sql?: string }) => {
        now += CALL_MS;
        if (now < wakesAtMs) throw resuming();
        return answer(input);
      });
      rds.on(BeginTransactionCommand).resolves({ transactionId: 'tx-1' });
      rds.on(CommitTransactionCommand).resolves({});
      rds.on(RollbackTransactionCommand).resolves({});
      const retry: RetryPolicy = { ...DEPLOY_RETRY, random: () => 1, now: () => now, sleep: async (ms) => void (waits.push(ms), (now += ms)) };
      return { rds, ...(await migratorOverDataApi(retry)), waits, elapsed: () => now };
    }

    it('keeps retrying for minutes, so an Aurora that takes 3 minutes to resume is migrated in the same deploy', async () => {
      const { rds, migrateNow, sql, elapsed } = await sleepyDeploy(3 * 60_000);
      try {
        expect((await migrateNow()).applied).toEqual(sql.migrations.map((m) => m.name));
        expect(elapsed()).toBeGreaterThanOrEqual(3 * 60_000);
      } finally {
        rds.restore();
      }
    });

    it('gives up with "unavailable" while the Lambda still has time to report it, never waiting past its timeout', async () => {
      const { rds, migrateNow, waits, elapsed } = await sleepyDeploy(Number.POSITIVE_INFINITY);
      try {
        await expect(migrateNow()).rejects.toBeInstanceOf(DatabaseUnavailableError);
        expect(elapsed()).toBeGreaterThanOrEqual(4 * 60_000);
        // The last refused call, one more call's worth of time and the failure report all fit in the Lambda's run.
        expect(elapsed() + CALL_MS + 60_000).toBeLessThan(MIGRATION_TIMEOUT.toMilliseconds());
        expect(Math.max(...waits)).toBeLessThanOrEqual(DEPLOY_RETRY.maxDelayMs);
        expect(rds.commandCalls(ExecuteStatementCommand).length).toBe(waits.length + 1);
        // The first statement already runs in the first migration's transaction, which is ended, not left open.
        expect(rds.commandCalls(RollbackTransactionCommand)).toHaveLength(1);
      } finally {
        rds.restore();
      }
    });
  });
});

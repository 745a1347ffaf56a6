import { BeginTransactionCommand, CommitTransactionCommand, ExecuteStatementCommand, RDSDataClient, RollbackTransactionCommand } from '@aws-sdk/client-rds-data';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { dataApiDatabase, type RetryPolicy } from '../../functions/db/data-api.js';
import { DatabaseUnavailableError } from '../../functions/db/port.js';
import { loadMigrations, splitStatements } from '../../functions/db/migrate.js';
import { createMigrateHandler, DEPLOY_RETRY, migrationsDigest } from '../../functions/handlers/migrate.js';
import { SQL_DIR } from '../../lib/days-since-app.js';
import { MIGRATION_TIMEOUT } from '../../lib/migrations.js';
import { freshPglite } from '../support/pglite-template.js';

const quiet = { info: () => {} };

const TARGET = {
  resourceArn: 'arn:aws:rds:eu-west-1:123456789012:cluster:days-since',
  secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:days-since-AbCdEf',
  database: 'days_since',
};

/** The deploy-time handler over the Data API (mocked by the caller), retrying with `retry`. */
async function migratorOverDataApi(retry: RetryPolicy) {
  const migrations = await loadMigrations(SQL_DIR);
  const migrateNow = createMigrateHandler({
    db: dataApiDatabase(new RDSDataClient({ region: 'eu-west-1' }), TARGET, retry),
    migrationsDir: SQL_DIR,
    expectedDigest: migrationsDigest(migrations),
    log: quiet,
  });
  return { migrations, migrateNow };
}

describe('the deploy-time migration handler', () => {
  it('applies sql/ with the same runner as the local run, then finds nothing left to do', async () => {
    const db = await freshPglite();
    const migrations = await loadMigrations(SQL_DIR);
    const migrateNow = createMigrateHandler({ db, migrationsDir: SQL_DIR, expectedDigest: migrationsDigest(migrations), log: quiet });
    const names = migrations.map((m) => m.name);
    expect(await migrateNow()).toEqual({ applied: names, alreadyApplied: [] });
    expect(await migrateNow()).toEqual({ applied: [], alreadyApplied: names });
    const [row] = await db.query<{ n: unknown }>('SELECT count(*)::int AS n FROM real_user_count');
    expect(row?.n).toBe(1);
    await db.close();
  });

  it('applies nothing when sql/ is not the one the deployment was synthesized from', async () => {
    const db = await freshPglite();
    const migrateNow = createMigrateHandler({ db, migrationsDir: SQL_DIR, expectedDigest: '0'.repeat(64), log: quiet });
    await expect(migrateNow()).rejects.toThrow(/^the migrations bundled here \(sha256 [0-9a-f]{64}\) are not the ones/);
    expect(await db.query("SELECT to_regclass('schema_migrations') AS t")).toEqual([{ t: null }]);
    await db.close();
  });

  it('fingerprints names and contents, in order', () => {
    const a = { name: '001_a.sql', sql: 'CREATE TABLE a (id int);' };
    const b = { name: '002_b.sql', sql: 'CREATE TABLE b (id int);' };
    expect(migrationsDigest([a, b])).toBe(migrationsDigest([{ ...a }, { ...b }]));
    expect(migrationsDigest([a, b])).not.toBe(migrationsDigest([b, a]));
    expect(migrationsDigest([a])).not.toBe(migrationsDigest([{ ...a, name: '001_c.sql' }]));
    expect(migrationsDigest([a])).not.toBe(migrationsDigest([{ ...a, sql: `${a.sql} ` }]));
  });

  it('waits out a resuming Aurora through the Data API, one transaction per migration', async () => {
    const rds = mockClient(RDSDataClient);
    try {
      const target = TARGET;
      let now = 0;
      const retry: RetryPolicy = { ...DEPLOY_RETRY, random: () => 1, now: () => now, sleep: async (ms) => void (now += ms) };
      const resuming = Object.assign(new Error('resuming'), { name: 'DatabaseResumingException' });
      rds.on(ExecuteStatementCommand).rejectsOnce(resuming).rejectsOnce(resuming).resolves({ formattedRecords: '[]' });
      rds.on(BeginTransactionCommand).resolves({ transactionId: 'tx-1' });
      rds.on(CommitTransactionCommand).resolves({});

      const { migrations, migrateNow } = await migratorOverDataApi(retry);
      expect((await migrateNow()).applied).toEqual(migrations.map((m) => m.name));

      const sent = rds.commandCalls(ExecuteStatementCommand).map((call) => call.args[0].input);
      // The first statement, refused twice while Aurora resumed, was sent again as it was.
      expect(sent[2]).toEqual(sent[0]);
      // The ledger is created inside the first migration's transaction, after its lock: nothing runs before it.
      const ledger = sent.findIndex((input) => input.sql?.includes('CREATE TABLE IF NOT EXISTS schema_migrations'));
      expect(ledger).toBeGreaterThan(0);
      expect(sent.slice(0, ledger + 1).every((input) => input.transactionId === 'tx-1' && input.resourceArn === target.resourceArn)).toBe(true);
      for (const statement of migrations.flatMap((m) => splitStatements(m.sql))) {
        expect(sent).toContainEqual(expect.objectContaining({ ...target, sql: statement, transactionId: 'tx-1' }));
      }
      expect(rds.commandCalls(BeginTransactionCommand)).toHaveLength(migrations.length);
      expect(rds.commandCalls(CommitTransactionCommand).map((call) => call.args[0].input)).toEqual(
        migrations.map(() => ({ resourceArn: target.resourceArn, secretArn: target.secretArn, transactionId: 'tx-1' })),
      );
      expect(now).toBeGreaterThan(0);
    } finally {
      rds.restore();
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
      rds.on(ExecuteStatementCommand).callsFake(async () => {
        now += CALL_MS;
        if (now < wakesAtMs) throw resuming();
        return { formattedRecords: '[]' };
      });
      rds.on(BeginTransactionCommand).resolves({ transactionId: 'tx-1' });
      rds.on(CommitTransactionCommand).resolves({});
      rds.on(RollbackTransactionCommand).resolves({});
      const retry: RetryPolicy = { ...DEPLOY_RETRY, random: () => 1, now: () => now, sleep: async (ms) => void (waits.push(ms), (now += ms)) };
      return { rds, ...(await migratorOverDataApi(retry)), waits, elapsed: () => now };
    }

    it('keeps retrying for minutes, so an Aurora that takes 3 minutes to resume is migrated in the same deploy', async () => {
      const { rds, migrateNow, migrations, elapsed } = await sleepyDeploy(3 * 60_000);
      try {
        expect((await migrateNow()).applied).toEqual(migrations.map((m) => m.name));
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

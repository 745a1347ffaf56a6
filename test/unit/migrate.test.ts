import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { installedAt, loadMigrations, migrate, splitStatements } from '../../functions/db/migrate.js';
import { readNumber } from '../../functions/db/port.js';
import { openPostgres } from '../../functions/db/postgres.js';
import { SQL_DIR } from '../../functions/local/service.js';
import { createTestDatabase } from '../support/postgres.js';
import { freshPglite } from '../support/pglite-template.js';

describe('splitStatements', () => {
  it('splits on semicolons outside quotes, comments and dollar-quoted bodies', () => {
    const sql = `-- a comment; not a split
CREATE TABLE a (note text DEFAULT 'x;y');
/* block; comment */
CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;
CREATE TABLE "odd;name" (id int);
-- trailing comment only`;
    expect(splitStatements(sql)).toEqual([
      "-- a comment; not a split\nCREATE TABLE a (note text DEFAULT 'x;y')",
      '/* block; comment */\nCREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql',
      'CREATE TABLE "odd;name" (id int)',
    ]);
  });
});

describe('migrate', () => {
  it('applies sql/ in order once, records it, and is a no-op the second time', async () => {
    const db = await freshPglite();
    const migrations = await loadMigrations(SQL_DIR);
    expect(migrations.map((m) => m.name).slice(0, 2)).toEqual(['001_interactions.sql', '002_real_activity_rollups.sql']);
    const first = await migrate(db, migrations);
    expect(first.applied).toEqual(migrations.map((m) => m.name));
    const second = await migrate(db, migrations);
    expect(second).toEqual({ applied: [], alreadyApplied: migrations.map((m) => m.name) });
    expect(await installedAt(db)).toBeInstanceOf(Date);
    await db.close();
  });

  it('refuses a migration that was edited after it was applied', async () => {
    const db = await freshPglite();
    await migrate(db, [{ name: '001_a.sql', sql: 'CREATE TABLE a (id int);' }]);
    await expect(migrate(db, [{ name: '001_a.sql', sql: 'CREATE TABLE a (id bigint);' }])).rejects.toThrow(
      'migration 001_a.sql was changed after it was applied: add a new migration instead',
    );
    await db.close();
  });

  it('leaves nothing of a migration that fails half way, and keeps the ones before it', async () => {
    const db = await freshPglite();
    const report = migrate(db, [
      { name: '001_a.sql', sql: 'CREATE TABLE a (id int);' },
      { name: '002_b.sql', sql: 'CREATE TABLE b (id int); INSERT INTO nowhere VALUES (1);' },
    ]);
    await expect(report).rejects.toThrow(/nowhere/);
    const tables = await db.query<{ tablename: string }>("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");
    expect(tables.map((t) => t.tablename)).toEqual(['a', 'schema_migrations']);
    expect(await db.query('SELECT name FROM schema_migrations')).toEqual([{ name: '001_a.sql' }]);
    await db.close();
  });

  it('refuses a file that does not follow NNN_<what>.sql', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'migrations-'));
    await writeFile(join(dir, 'add-users.sql'), 'SELECT 1;');
    await expect(loadMigrations(dir)).rejects.toThrow('migration file add-users.sql must be named NNN_<what>.sql');
    await rm(dir, { recursive: true });
  });
});

describe('migrate, many first runs at once on PostgreSQL 16', () => {
  // Deploys, local starts and test workers may all meet an empty database at the same moment.
  it('applies every migration exactly once, with no run failing', async () => {
    const migrations = await loadMigrations(SQL_DIR);
    const runners = 16;
    for (let round = 0; round < 4; round++) {
      const { url, drop } = await createTestDatabase();
      // Separate pools, so each run is its own client, as separate Lambdas or processes would be.
      const pools = Array.from({ length: runners }, () => openPostgres(url, { maxConnections: 1 }));
      try {
        const outcomes = await Promise.allSettled(pools.map((db) => migrate(db, migrations)));
        const failures = outcomes.filter((outcome) => outcome.status === 'rejected');
        expect(failures.map((failure) => String((failure as PromiseRejectedResult).reason))).toEqual([]);
        const reports = outcomes.map((outcome) => (outcome as PromiseFulfilledResult<Awaited<ReturnType<typeof migrate>>>).value);
        for (const { name } of migrations) {
          expect(reports.filter((report) => report.applied.includes(name))).toHaveLength(1);
          expect(reports.filter((report) => report.alreadyApplied.includes(name))).toHaveLength(runners - 1);
        }
        const [ledger] = await pools[0]!.query<{ rows: unknown; names: unknown }>(
          'SELECT count(*) AS rows, count(DISTINCT name) AS names FROM schema_migrations',
        );
        expect(readNumber(ledger!.rows)).toBe(migrations.length);
        expect(readNumber(ledger!.names)).toBe(migrations.length);
      } finally {
        await Promise.all(pools.map((db) => db.close()));
        await drop();
      }
    }
  });
});

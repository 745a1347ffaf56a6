import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../functions/core/config.js';
import { toStore, type InteractionToStore } from '../../functions/core/recording.js';
import { readDailyHistory } from '../../functions/db/history.js';
import { recordInteractions } from '../../functions/db/interactions.js';
import { readExclusions, readHeadline, readLastRealByType, readPulse } from '../../functions/db/metrics.js';
import { installedAt, loadSchema, migrate, type Schema } from '../../functions/db/migrate.js';
import { readMilestoneProgress } from '../../functions/db/milestones.js';
import { json, type Database } from '../../functions/db/port.js';
import { SQL_DIR } from '../../functions/local/service.js';
import { describeCatalog, LEDGERS, type Catalog } from '../support/catalog.js';
import { engineUnderTest, migratedDatabase } from '../support/harness.js';
import { expectRollupsToEqualRecount } from '../support/recount.js';

// Version 0.1.0's sql/ was ten migrations, functions restated in several of them; it was squashed into
// sql/migrations/001_baseline.sql and one file per function in sql/functions. A database 0.1.0 created (a PGlite
// folder, an Aurora cluster) must take the new layout without running the baseline, then read and record as a
// database the new layout created does.

const FIXTURE = fileURLToPath(new URL('../fixtures/sql-0.1.0/', import.meta.url));

/** sql/ exactly as version 0.1.0 shipped it (test/fixtures/sql-0.1.0): migrations only, functions among them. */
async function sqlOf010(): Promise<Schema> {
  const names = (await readdir(FIXTURE)).filter((name) => name.endsWith('.sql')).sort();
  const migrations = await Promise.all(names.map(async (name) => ({ name, sql: await readFile(join(FIXTURE, name), 'utf8') })));
  return { migrations, functions: [] };
}

const engine = engineUnderTest();
const NOW = new Date('2026-03-01T12:00:00Z');
const config = loadConfig({ INTERNAL_EMAIL_DOMAINS: 'team.example', INTERNAL_USER_IDS: '00000000-0000-4000-8000-000000000003' });
const user = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

function traffic(count: number, offset: number): InteractionToStore[] {
  return Array.from({ length: count }, (_, i) => {
    const n = i + offset;
    return toStore(
      {
        event_id: `m-${n}`,
        user_id: user(n % 37),
        interaction_type: (['login', 'payment', 'page_view', 'agent_run', 'signup'] as const)[n % 5]!,
        // Out of order over 90 days, so later batches backdate users' first days.
        occurred_at: new Date(NOW.getTime() - ((n * 7919) % 90) * 86_400_000 - (n % 13) * 3_600_000).toISOString(),
        context: {
          ...(n % 37 === 7 && n % 2 === 0 ? { email: `x${n}@team.example` } : n % 3 === 0 ? { email: `x${n}@mail${n % 4}.example` } : {}),
          ...(n % 37 === 9 && n % 5 === 0 ? { internal: true } : {}),
          ...(n % 17 === 0 ? { test: true } : {}),
          ...(n % 23 === 0 ? { user_agent: 'curl/8.5.0' } : {}),
        },
      },
      NOW,
      () => 'unused',
      config,
    );
  });
}

/** Everything the service reads from the database. */
const reads = async (db: Database) => ({
  headline: await readHeadline(db, config.internal),
  pulse: await readPulse(db, config.internal, NOW),
  lastByType: await readLastRealByType(db, config.internal, config.countingTypes),
  exclusions: await readExclusions(db, config.internal, new Date(NOW.getTime() - 30 * 86_400_000)),
  history: await readDailyHistory(db, config.internal, { from: '2025-12-01', to: '2026-03-01' }),
  milestones: await readMilestoneProgress(db, config.internal, config.milestones, NOW),
});

/** Every stored interaction, as text, but for what only says when and in what order it arrived. */
const storedRows = (db: Database) =>
  db.query(`SELECT event_id, user_id::text, interaction_type, occurred_at::text, exclusion_reason, marked_internal, email_domain,
                   user_agent, ip, metadata::text FROM interactions ORDER BY event_id`);

/** Records as the service does (0.1.0's code made the same call), 200 at a time. */
async function recordInBatches(db: Database, items: InteractionToStore[]) {
  for (let i = 0; i < items.length; i += 200) await recordInteractions(db, items.slice(i, i + 200), config.internal.emailDomains);
}

/** The catalog without the migrator's ledgers, which say how a database was built. */
const withoutLedgers = (catalog: Catalog): Catalog =>
  Object.fromEntries(Object.entries(catalog).map(([kind, lines]) => [kind, lines.filter((line: string) => !LEDGERS.some((ledger) => line.includes(ledger)))])) as Catalog;

/**
 * sql/ as it stood at the baseline: 001_baseline.sql alone, and the function files that create triggers (their PL/pgSQL
 * bodies are not bound to column types, so today's files make the triggers the baseline had). Later migrations change tables.
 */
async function baselineOnly(): Promise<Schema> {
  const sql = await loadSchema(SQL_DIR);
  return { migrations: sql.migrations.filter((m) => m.name === '001_baseline.sql'), functions: sql.functions.filter((f) => /CREATE TRIGGER/i.test(f.sql)) };
}

describe('a database version 0.1.0 created', () => {
  const dbs = {} as { older: Database; fresh: Database; baseline: Database };
  beforeAll(async () => {
    dbs.older = await engine.open();
    await migrate(dbs.older, await sqlOf010());
    dbs.fresh = await migratedDatabase(engine);
    dbs.baseline = await engine.open();
    await migrate(dbs.baseline, await baselineOnly());
  }, 180_000);
  afterAll(async () => {
    await dbs.older?.close();
    await dbs.fresh?.close();
    await dbs.baseline?.close();
  });

  it('has the baseline’s tables, columns, constraints, indexes, triggers and seed rows, as a database 001_baseline.sql built has', async () => {
    const { functions: _then, ...older } = withoutLedgers(await describeCatalog(dbs.older, { rows: true }));
    const { functions: _now, ...baseline } = withoutLedgers(await describeCatalog(dbs.baseline, { rows: true }));
    expect(older).toEqual(baseline);
    // The comparison sees the objects the baseline makes.
    expect(baseline.indexes.some((index) => index.includes('real_user_activity_payment_first'))).toBe(true);
    expect(baseline.triggers.some((trigger) => trigger.includes('daily_real_totals_new_moved'))).toBe(true);
    expect(baseline.rows).toContain('real_user_count: [{"users":0,"shard":0}]');
  });

  it('upgrades without running the baseline, stores and reads what a new database holding the same interactions does, equals a recount, and records on as one', async () => {
    const { older, fresh } = dbs;
    const sql = await loadSchema(SQL_DIR);
    const before = traffic(600, 0);
    const after = traffic(400, 600);
    // 0.1.0 kept every IP whole: some of these carry one.
    const asZeroOneZeroSent = before.map((item, i) => (i % 10 === 0 ? { ...item, ip: `203.0.113.${i % 256}` } : item));
    await recordInBatches(older, asZeroOneZeroSent.slice(0, 500));
    // The form 0.1.0 kept for code from before its sql/007, which the upgrade drops.
    await older.query('SELECT * FROM record_interactions(:interactions::jsonb)', { interactions: json(asZeroOneZeroSent.slice(500)) });
    // Installed on 2 January: the earliest applied_at is the product's baseline date, and must stay.
    await older.query("UPDATE schema_migrations SET applied_at = timestamptz '2026-01-01 00:00:00+00' + substr(name, 1, 3)::int * interval '1 day'");
    // Today's code cannot read a 0.1.0 database (its ids are uuids): what it must read after the upgrade is what a new
    // database that recorded the same interactions reads.
    await recordInBatches(fresh, before);
    expect(await storedRows(older)).toHaveLength(before.length);

    // The baseline stands for 0.1.0's ten; the migrations after it run as on any database at the baseline.
    expect(await migrate(older, sql)).toEqual({
      applied: sql.migrations.slice(1).map((m) => m.name),
      alreadyApplied: ['001_baseline.sql'],
      defined: sql.functions.map((f) => f.name),
      dropped: [],
    });
    expect((await older.query('SELECT name FROM schema_migrations ORDER BY name')).map((row) => row.name)).toEqual(sql.migrations.map((m) => m.name));
    expect(await installedAt(older)).toEqual(new Date('2026-01-02T00:00:00Z'));
    expect(await reads(older)).toEqual(await reads(fresh));
    await expectRollupsToEqualRecount(older);
    // Every interaction as today's code stores it: user ids as lower-case text, and no IP kept.
    expect(await storedRows(older)).toEqual(await storedRows(fresh));
    expect(await older.query('SELECT count(*)::int AS kept FROM interactions WHERE ip IS NOT NULL')).toEqual([{ kept: 0 }]);
    // Every function and trigger as sql/functions defines it, and nothing else: record_interactions(jsonb) is gone.
    const upgraded = await describeCatalog(older);
    expect(upgraded).toEqual(await describeCatalog(fresh));
    expect(upgraded.functions.filter((fn) => fn.includes('FUNCTION public.record_interactions('))).toHaveLength(1);

    // Returning users, new users, and interactions older than a user's first day (their first day moves earlier).
    await recordInBatches(older, after);
    await recordInBatches(fresh, after);
    await expectRollupsToEqualRecount(older);
    expect(await reads(older)).toEqual(await reads(fresh));
    expect(await migrate(older, sql)).toEqual({ applied: [], alreadyApplied: sql.migrations.map((m) => m.name), defined: [], dropped: [] });
  });
});

describe('a database a development version of sql/ created', () => {
  it('is refused with the migrations that differ from 0.1.0’s, and left as it was', async () => {
    const db = await engine.open();
    try {
      const { migrations } = await sqlOf010();
      const sql = await loadSchema(SQL_DIR);
      const ledger = async () => (await db.query('SELECT name, checksum FROM schema_migrations ORDER BY name')).map((row) => `${row.name} ${row.checksum}`);
      await migrate(db, { migrations: migrations.slice(0, 9), functions: [] });
      const was = await ledger();
      await expect(migrate(db, sql)).rejects.toThrow(
        /^schema_migrations is not the one sql\/ 0\.1\.0 leaves \(010_counters_in_the_statement\.sql missing\): a development version migrated this database/,
      );
      expect(await ledger()).toEqual(was);
      const edited = { ...migrations[9]!, sql: `${migrations[9]!.sql}\n-- still being written` };
      await migrate(db, { migrations: [...migrations.slice(0, 9), edited], functions: [] });
      await expect(migrate(db, sql)).rejects.toThrow(/\(010_counters_in_the_statement\.sql differs\)/);
      expect(await db.query("SELECT to_regclass('schema_definitions')::text AS ledger")).toEqual([{ ledger: null }]);
    } finally {
      await db.close();
    }
  }, 120_000);
});

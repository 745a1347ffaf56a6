import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { epochMs, json, readEpochMs, type Database } from './port.js';

export interface SqlFile {
  name: string;
  sql: string;
}

/** sql/ as the migrator reads it. */
export interface Schema {
  /** sql/migrations: tables, indexes and their data, in order; each applied once, and never edited after. */
  migrations: SqlFile[];
  /** sql/functions: one function (its overloads, and the triggers that run it) per file, applied again whenever its text changes. */
  functions: SqlFile[];
}

const MIGRATION_FILE = /^\d{3}_[a-z0-9_]+\.sql$/;
const FUNCTION_FILE = /^[a-z_][a-z0-9_]*\.sql$/;

/** sql/migrations/NNN_<what>.sql and sql/functions/<function>.sql, each in name order; nothing else may stand in sql/. */
export async function loadSchema(dir: string): Promise<Schema> {
  const stray = (await readdir(dir)).filter((entry) => entry !== 'migrations' && entry !== 'functions');
  if (stray.length > 0) {
    throw new Error(`sql/${stray[0]}: sql/ holds only migrations/ (tables and indexes) and functions/ (one function a file)`);
  }
  const [migrations, functions] = await Promise.all([readSqlFiles(join(dir, 'migrations')), readSqlFiles(join(dir, 'functions'))]);
  const misnamed = migrations.find(({ name }) => !MIGRATION_FILE.test(name));
  if (misnamed) throw new Error(`migration file ${misnamed.name} must be named NNN_<what>.sql`);
  for (const file of functions) checkFunctionFile(file);
  return { migrations, functions };
}

async function readSqlFiles(dir: string): Promise<SqlFile[]> {
  const names = (await readdir(dir)).filter((name) => name.endsWith('.sql')).sort();
  return Promise.all(names.map(async (name) => ({ name, sql: await readFile(join(dir, name), 'utf8') })));
}

const LEADING_COMMENTS = /^(?:\s|--[^\n]*|\/\*[\s\S]*?\*\/)*/;
const CREATE_FUNCTION = /^CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+([a-z_][a-z0-9_]*)\s*\(/i;
const CREATE_TRIGGER = /^CREATE\s+(?:OR\s+REPLACE\s+)?TRIGGER\s[\s\S]*?\bEXECUTE\s+(?:FUNCTION|PROCEDURE)\s+([a-z_][a-z0-9_]*)\s*\(/i;

/**
 * A function file creates the function it is named after and the triggers that execute it, nothing else: before the
 * file is applied again, the migrator drops what it defined by that name, so anything else would be left behind.
 */
function checkFunctionFile({ name, sql }: SqlFile): void {
  if (!FUNCTION_FILE.test(name)) throw new Error(`function file ${name} must be named <function>.sql, in lower case`);
  const fn = functionOf(name);
  const statements = splitStatements(sql).map((statement) => statement.replace(LEADING_COMMENTS, ''));
  for (const statement of statements) {
    const named = CREATE_FUNCTION.exec(statement)?.[1] ?? CREATE_TRIGGER.exec(statement)?.[1];
    if (named?.toLowerCase() !== fn) {
      throw new Error(`sql/functions/${name} may only create the function ${fn} and triggers that execute it, not: ${statement.slice(0, 80)}`);
    }
  }
  if (!statements.some((statement) => CREATE_FUNCTION.test(statement))) throw new Error(`sql/functions/${name} does not create ${fn}`);
}

const functionOf = (file: string) => file.replace(/\.sql$/, '');

/**
 * Splits a file into statements: the Data API runs one statement per call. Understands quotes,
 * comments and $tag$ bodies so a semicolon inside them does not split.
 */
export function splitStatements(sql: string): string[] {
  const statements: string[] = [];
  const token = /'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|\/\*[\s\S]*?\*\/|(\$[A-Za-z_]*\$)[\s\S]*?\1|;/g;
  let start = 0;
  for (const match of sql.matchAll(token)) {
    if (match[0] !== ';') continue;
    statements.push(sql.slice(start, match.index));
    start = match.index + 1;
  }
  statements.push(sql.slice(start));
  return statements.map((statement) => statement.trim()).filter((statement) => stripComments(statement) !== '');
}

function stripComments(sql: string): string {
  return sql.replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, '').trim();
}

const checksum = (sql: string) => createHash('sha256').update(sql).digest('hex');

// Two deploys (or two local starts) racing must not apply the same file twice; a void column would fail on the Data API.
const LOCK = "SELECT true AS locked FROM pg_advisory_xact_lock(hashtext('days-since schema_migrations'))";

/**
 * One statement with no result; CREATE runs only when the table is missing, because even CREATE ... IF NOT EXISTS
 * demands the schema's CREATE right, which a read-write role (after an owner's first start) lacks.
 * schema_migrations: each migration applied, once. schema_definitions: the text each function file was last applied from.
 */
const createLedger = (table: 'schema_migrations' | 'schema_definitions') => `DO $ledger$ BEGIN
  IF to_regclass('${table}') IS NULL THEN
    CREATE TABLE IF NOT EXISTS ${table} (
      name       text        PRIMARY KEY,
      checksum   text        NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    );
  END IF;
END $ledger$`;

export interface MigrationReport {
  /** Migrations this run applied, in order. */
  applied: string[];
  /** Migrations applied before (or, for the baseline on a database 0.1.0 created, in effect before). */
  alreadyApplied: string[];
  /** Function files this run applied: new, or changed since they were last applied. */
  defined: string[];
  /** Function files gone from sql/functions, whose functions and triggers this run dropped. */
  dropped: string[];
}

/**
 * Applies the migrations not applied yet, each in its own transaction together with its record, so a failure leaves
 * the database at the last whole migration; then, in one transaction, every function file that is new or changed
 * (and drops the functions of files that are gone), so callers never meet half of a change that spans files.
 * Safe to run again, and concurrently: every transaction starts by taking the same lock.
 */
export async function migrate(db: Database, schema: Schema): Promise<MigrationReport> {
  const report: MigrationReport = { applied: [], alreadyApplied: [], defined: [], dropped: [] };
  let ledgerFound = false;
  for (const migration of schema.migrations) {
    const sum = checksum(migration.sql);
    const applied = await db.transaction(async (tx) => {
      await tx.query(LOCK);
      // Created under the lock: concurrent first runs creating it at once collide on pg_type (23505).
      if (!ledgerFound) await tx.query(createLedger('schema_migrations'));
      const [done] = await tx.query<{ checksum: string }>('SELECT checksum FROM schema_migrations WHERE name = :name', {
        name: migration.name,
      });
      if (done) {
        if (done.checksum !== sum) {
          throw new Error(`migration ${migration.name} was changed after it was applied: add a new migration instead`);
        }
        return false;
      }
      if (migration.name === BASELINE && (await adoptBaseline(tx, sum))) return false;
      for (const statement of splitStatements(migration.sql)) await tx.query(statement);
      await tx.query('INSERT INTO schema_migrations (name, checksum) VALUES (:name, :checksum)', {
        name: migration.name,
        checksum: sum,
      });
      return true;
    });
    ledgerFound = true;
    (applied ? report.applied : report.alreadyApplied).push(migration.name);
  }
  const { defined, dropped } = await db.transaction((tx) => defineFunctions(tx, schema.functions));
  return { ...report, defined, dropped };
}

/** The first migration: version 0.1.0's ten, squashed before the first release. */
const BASELINE = '001_baseline.sql';

/** sql/ of version 0.1.0, by checksum: what the baseline stands for (test/fixtures/sql-0.1.0 holds the files). */
const SQUASHED_INTO_BASELINE = new Map([
  ['001_interactions.sql', '379e3559d3b7f4a5101341bfd575f20f9092b165198022cdcbb80eb06d772e9d'],
  ['002_real_activity_rollups.sql', 'a59ab6170adb3edf34717d4d0d678c0bb9133b3027ce342d7d83cd99d5399907'],
  ['003_alerts_and_check_ins.sql', '869869c12b68f40dba16f5a7fef9611ad1650f34e5f75bad7464828f8e7620d9'],
  ['004_history_rollups.sql', '306929ef3d4c30dc5e96407f2d873bc3ede39536f4d590dafc4a6bbfb238d058'],
  ['005_record_interactions.sql', '8102f1c5e90db976328bc48d0c5ea1becc1f2e9e2ccc7dcdf16aa69931106bf4'],
  ['006_check_in_claims.sql', '9f3274c6ff4d53a86df6d8e2a4b52b15d1e5a5d7335b597328721a4606296d61'],
  ['007_many_writers.sql', 'c3af86ca066383f0e35111d688934c9535bacf6a7d34696441150e53eec28c96'],
  ['008_record_interactions_until_deployed.sql', '3e0073a47186dbf3607ab914d0dfcb256f6bff73f98f296047cfdb185668a2f1'],
  ['009_fewer_reads_per_batch.sql', 'a2600a9fba20ecfa6565e76a7791a0d96087ad644dd308416943764010e085a8'],
  ['010_counters_in_the_statement.sql', '49d4fb0f254c79f04ef24797b9d16ce51dd94f03cd2899a540ab2dd96b9f8e2b'],
]);

/**
 * A database 0.1.0 migrated already has the baseline's tables, indexes and rows (test/integration/upgrade-0.1.0.test.ts
 * compares the catalogs): its ten ledger rows become the baseline's one, which keeps the earliest applied_at, the
 * install date installedAt reads. Its functions are replaced by sql/functions next, as any changed function is.
 * False for a database without them; an error for one a development version of sql/ migrated, which may differ.
 */
async function adoptBaseline(tx: Database, baselineChecksum: string): Promise<boolean> {
  const ledger = await tx.query<{ name: string; checksum: string }>('SELECT name, checksum FROM schema_migrations ORDER BY name');
  if (!ledger.some(({ name }) => SQUASHED_INTO_BASELINE.has(name))) return false;
  const differs = ledger.filter(({ name, checksum }) => SQUASHED_INTO_BASELINE.get(name) !== checksum).map(({ name }) => name);
  const missing = [...SQUASHED_INTO_BASELINE.keys()].filter((name) => !ledger.some((row) => row.name === name));
  if (differs.length > 0 || missing.length > 0) {
    throw new Error(
      `schema_migrations is not the one sql/ 0.1.0 leaves (${[...differs.map((name) => `${name} differs`), ...missing.map((name) => `${name} missing`)].join(', ')}): ` +
        `a development version migrated this database, and ${BASELINE} cannot stand for it; migrate a new database`,
    );
  }
  await tx.query('INSERT INTO schema_migrations (name, checksum, applied_at) SELECT :name, :checksum, min(applied_at) FROM schema_migrations', {
    name: BASELINE,
    checksum: baselineChecksum,
  });
  await tx.query('DELETE FROM schema_migrations WHERE name <> :name', { name: BASELINE });
  return true;
}

/**
 * What a function file defined when it was last applied: its triggers, then every function of its name. Dropped before
 * the file runs again, so a changed signature or result, an overload or a trigger the file no longer has, does not stay.
 * Triggers go in the order their tables were created, which is the order writers lock them (sql/migrations/001).
 */
const DEFINED_BY = `SELECT statement FROM (
  SELECT 1 AS step, t.tgrelid::bigint AS position, format('DROP TRIGGER %I ON %s', t.tgname, t.tgrelid::regclass) AS statement
  FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
  WHERE NOT t.tgisinternal AND p.pronamespace = current_schema()::text::regnamespace
    AND p.proname IN (SELECT jsonb_array_elements_text(:functions::jsonb))
  UNION ALL
  SELECT 2, p.oid::bigint, format('DROP FUNCTION %s', p.oid::regprocedure)
  FROM pg_proc p
  WHERE p.prokind = 'f' AND p.pronamespace = current_schema()::text::regnamespace
    AND p.proname IN (SELECT jsonb_array_elements_text(:functions::jsonb))
) AS defined ORDER BY step, position, statement`;

/** Applies the function files whose text schema_definitions does not hold, and drops those of files that are gone. */
async function defineFunctions(tx: Database, files: readonly SqlFile[]): Promise<Pick<MigrationReport, 'defined' | 'dropped'>> {
  await tx.query(LOCK);
  const [ledger] = await tx.query<{ found: boolean }>("SELECT to_regclass('schema_definitions') IS NOT NULL AS found");
  if (ledger === undefined) throw new Error('the database did not say whether schema_definitions exists');
  if (!ledger.found) {
    if (files.length === 0) return { defined: [], dropped: [] };
    await tx.query(createLedger('schema_definitions'));
  }
  const applied = new Map(
    (await tx.query<{ name: string; checksum: string }>('SELECT name, checksum FROM schema_definitions')).map((row) => [row.name, row.checksum]),
  );
  const changed = files.filter((file) => applied.get(file.name) !== checksum(file.sql));
  const gone = [...applied.keys()].filter((name) => !files.some((file) => file.name === name)).sort();
  if (changed.length === 0 && gone.length === 0) return { defined: [], dropped: [] };

  const functions = [...changed.map((file) => file.name), ...gone].map(functionOf);
  const drops = await tx.query<{ statement: string }>(DEFINED_BY, { functions: json(functions) });
  for (const { statement } of drops) await tx.query(statement);
  for (const file of changed) for (const statement of splitStatements(file.sql)) await tx.query(statement);
  for (const file of changed) {
    await tx.query(
      `INSERT INTO schema_definitions (name, checksum) VALUES (:name, :checksum)
       ON CONFLICT (name) DO UPDATE SET checksum = excluded.checksum, applied_at = now()`,
      { name: file.name, checksum: checksum(file.sql) },
    );
  }
  for (const name of gone) await tx.query('DELETE FROM schema_definitions WHERE name = :name', { name });
  return { defined: changed.map((file) => file.name), dropped: gone };
}

/** When the schema was first installed: the baseline before the first real user, unless BASELINE_DATE says otherwise. */
export async function installedAt(db: Database): Promise<Date | null> {
  const [row] = await db.query<{ installed_at: unknown }>(`SELECT ${epochMs('min(applied_at)')} AS installed_at FROM schema_migrations`);
  return readEpochMs(row?.installed_at);
}

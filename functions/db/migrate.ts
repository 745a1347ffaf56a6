import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readTimestamp, type Database } from './port.js';

export interface Migration {
  name: string;
  sql: string;
}

const MIGRATION_FILE = /^(\d{3})_[a-z0-9_]+\.sql$/;

/** The ordered migrations in `dir` (001_<what>.sql, 002_<what>.sql ...). */
export async function loadMigrations(dir: string): Promise<Migration[]> {
  const names = (await readdir(dir)).filter((name) => name.endsWith('.sql')).sort();
  const bad = names.find((name) => !MIGRATION_FILE.test(name));
  if (bad) throw new Error(`migration file ${bad} must be named NNN_<what>.sql`);
  return Promise.all(names.map(async (name) => ({ name, sql: await readFile(join(dir, name), 'utf8') })));
}

/**
 * Splits a migration into statements: the Data API runs one statement per call. Understands quotes,
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

// One statement with no result; CREATE runs only when the table is missing, because even CREATE ... IF NOT
// EXISTS demands the schema's CREATE right, which a read-write role (after an owner's first start) lacks.
const CREATE_SCHEMA_MIGRATIONS = `DO $ledger$ BEGIN
  IF to_regclass('schema_migrations') IS NULL THEN
    CREATE TABLE IF NOT EXISTS schema_migrations (
      name       text        PRIMARY KEY,
      checksum   text        NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    );
  END IF;
END $ledger$`;

export interface MigrationReport {
  applied: string[];
  alreadyApplied: string[];
}

/**
 * Applies what has not been applied yet, each migration in its own transaction together with its record,
 * so a failure leaves the database at the last whole migration. Safe to run again, and concurrently.
 */
export async function migrate(db: Database, migrations: readonly Migration[]): Promise<MigrationReport> {
  const report: MigrationReport = { applied: [], alreadyApplied: [] };
  let ledgerFound = false;
  for (const migration of migrations) {
    const sum = checksum(migration.sql);
    const applied = await db.transaction(async (tx) => {
      // Two deploys (or two local starts) racing must not apply the same file twice.
      await tx.query("SELECT true AS locked FROM pg_advisory_xact_lock(hashtext('days-since schema_migrations'))"); // a void column would fail on the Data API
      // Created under the lock: concurrent first runs creating it at once collide on pg_type (23505).
      if (!ledgerFound) await tx.query(CREATE_SCHEMA_MIGRATIONS);
      const [done] = await tx.query<{ checksum: string }>('SELECT checksum FROM schema_migrations WHERE name = :name', {
        name: migration.name,
      });
      if (done) {
        if (done.checksum !== sum) {
          throw new Error(`migration ${migration.name} was changed after it was applied: add a new migration instead`);
        }
        return false;
      }
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
  return report;
}

/** When the schema was first installed: the baseline before the first real user, unless BASELINE_DATE says otherwise. */
export async function installedAt(db: Database): Promise<Date | null> {
  const [row] = await db.query<{ installed_at: unknown }>('SELECT min(applied_at) AS installed_at FROM schema_migrations');
  return readTimestamp(row?.installed_at);
}

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { installedAt, loadSchema, migrate, splitStatements, type Schema } from '../../functions/db/migrate.js';
import { readNumber, type Database } from '../../functions/db/port.js';
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

/** sql/ given inline: migrations and function files by name. */
const schema = (migrations: Record<string, string>, functions: Record<string, string> = {}): Schema => ({
  migrations: Object.entries(migrations).map(([name, sql]) => ({ name, sql })),
  functions: Object.entries(functions).map(([name, sql]) => ({ name, sql })),
});

describe('migrate', () => {
  it('applies sql/ in order once, records it, and is a no-op the second time', async () => {
    const db = await freshPglite();
    const sql = await loadSchema(SQL_DIR);
    expect(sql.migrations.map((m) => m.name)[0]).toBe('001_baseline.sql');
    expect(sql.functions.map((f) => f.name)).toContain('record_interactions.sql');
    const first = await migrate(db, sql);
    expect(first).toEqual({ applied: sql.migrations.map((m) => m.name), alreadyApplied: [], defined: sql.functions.map((f) => f.name), dropped: [] });
    const second = await migrate(db, sql);
    expect(second).toEqual({ applied: [], alreadyApplied: sql.migrations.map((m) => m.name), defined: [], dropped: [] });
    expect(await installedAt(db)).toBeInstanceOf(Date);
    await db.close();
  });

  it('refuses a migration that was edited after it was applied', async () => {
    const db = await freshPglite();
    await migrate(db, schema({ '001_a.sql': 'CREATE TABLE a (id int);' }));
    await expect(migrate(db, schema({ '001_a.sql': 'CREATE TABLE a (id bigint);' }))).rejects.toThrow(
      'migration 001_a.sql was changed after it was applied: add a new migration instead',
    );
    await db.close();
  });

  it('leaves nothing of a migration that fails half way, and keeps the ones before it', async () => {
    const db = await freshPglite();
    const report = migrate(db, schema({ '001_a.sql': 'CREATE TABLE a (id int);', '002_b.sql': 'CREATE TABLE b (id int); INSERT INTO nowhere VALUES (1);' }));
    await expect(report).rejects.toThrow(/nowhere/);
    const tables = await db.query<{ tablename: string }>("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");
    expect(tables.map((t) => t.tablename)).toEqual(['a', 'schema_migrations']);
    expect(await db.query('SELECT name FROM schema_migrations')).toEqual([{ name: '001_a.sql' }]);
    await db.close();
  });
});

describe('migrate, function files', () => {
  const TABLES = { '001_tables.sql': 'CREATE TABLE t (id int); CREATE TABLE noted (note text);' };
  /** A trigger function and its trigger: each insert into t notes `note`. */
  const noting = (note: string, trigger = 'AFTER INSERT ON t FOR EACH STATEMENT') => `-- Notes each insert.
CREATE FUNCTION note_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO noted VALUES ('${note}');
  RETURN NULL;
END
$$;
CREATE TRIGGER t_noted ${trigger} EXECUTE FUNCTION note_insert();`;
  const total = (signature: string, body: string) => `CREATE FUNCTION total${signature} LANGUAGE sql AS $$ ${body} $$;`;

  const notes = async (db: Database) => (await db.query<{ note: string }>('SELECT note FROM noted')).map((row) => row.note);
  const functions = async (db: Database) =>
    (await db.query<{ f: string }>("SELECT oid::regprocedure::text AS f FROM pg_proc WHERE pronamespace = 'public'::regnamespace ORDER BY 1")).map((row) => row.f);
  const triggers = async (db: Database) =>
    (await db.query<{ t: string }>('SELECT pg_get_triggerdef(oid) AS t FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1')).map((row) => row.t);

  it('applies a function file again whenever its text changes, replacing the function and its trigger, and never otherwise', async () => {
    const db = await freshPglite();
    try {
      expect(await migrate(db, schema(TABLES, { 'note_insert.sql': noting('one') }))).toMatchObject({ applied: ['001_tables.sql'], defined: ['note_insert.sql'] });
      await db.query('INSERT INTO t VALUES (1)');
      expect(await migrate(db, schema(TABLES, { 'note_insert.sql': noting('one') }))).toMatchObject({ defined: [], dropped: [] });
      expect(await migrate(db, schema(TABLES, { 'note_insert.sql': noting('two') }))).toMatchObject({ alreadyApplied: ['001_tables.sql'], defined: ['note_insert.sql'] });
      await db.query('INSERT INTO t VALUES (2)');
      expect(await notes(db)).toEqual(['one', 'two']);
      // A trigger the file now declares otherwise is the file's, not the one before it.
      await migrate(db, schema(TABLES, { 'note_insert.sql': noting('three', 'AFTER UPDATE ON t FOR EACH STATEMENT') }));
      await db.query('INSERT INTO t VALUES (3)');
      await db.query('UPDATE t SET id = id');
      expect(await notes(db)).toEqual(['one', 'two', 'three']);
      expect(await triggers(db)).toEqual(['CREATE TRIGGER t_noted AFTER UPDATE ON public.t FOR EACH STATEMENT EXECUTE FUNCTION note_insert()']);
      expect(await db.query('SELECT name, checksum FROM schema_definitions')).toEqual([
        { name: 'note_insert.sql', checksum: expect.stringMatching(/^[0-9a-f]{64}$/) },
      ]);
    } finally {
      await db.close();
    }
  });

  it('replaces a function whose arguments or result changed, leaving no overload behind', async () => {
    const db = await freshPglite();
    try {
      await migrate(db, schema(TABLES, { 'total.sql': total('(a int) RETURNS int', 'SELECT a') }));
      await migrate(db, schema(TABLES, { 'total.sql': total('(a int) RETURNS bigint', 'SELECT a::bigint * 2') }));
      expect(await db.query('SELECT total(21) AS n')).toEqual([{ n: 42 }]);
      await migrate(db, schema(TABLES, { 'total.sql': total('(a int, b int) RETURNS bigint', 'SELECT (a + b)::bigint') }));
      expect(await functions(db)).toEqual(['total(integer,integer)']);
    } finally {
      await db.close();
    }
  });

  it('drops the function and triggers of a file that is gone', async () => {
    const db = await freshPglite();
    try {
      await migrate(db, schema(TABLES, { 'note_insert.sql': noting('one'), 'total.sql': total('(a int) RETURNS int', 'SELECT a') }));
      expect(await migrate(db, schema(TABLES, { 'total.sql': total('(a int) RETURNS int', 'SELECT a') }))).toMatchObject({ defined: [], dropped: ['note_insert.sql'] });
      expect([await functions(db), await triggers(db)]).toEqual([['total(integer)'], []]);
      expect(await db.query('SELECT name FROM schema_definitions')).toEqual([{ name: 'total.sql' }]);
    } finally {
      await db.close();
    }
  });

  it('applies every changed file in one transaction: one that fails leaves the others as they were', async () => {
    const db = await freshPglite();
    try {
      await migrate(db, schema(TABLES, { 'note_insert.sql': noting('one'), 'total.sql': total('(a int) RETURNS int', 'SELECT a') }));
      const broken = schema(TABLES, { 'note_insert.sql': noting('two'), 'total.sql': total('(a int) RETURNS int', 'SELECT nothing_here') });
      await expect(migrate(db, broken)).rejects.toThrow(/nothing_here/);
      await db.query('INSERT INTO t VALUES (1)');
      expect(await notes(db)).toEqual(['one']);
      expect(await functions(db)).toEqual(['note_insert()', 'total(integer)']);
    } finally {
      await db.close();
    }
  });

  it('refuses to drop a function a table depends on, rather than cascading to the table', async () => {
    const db = await freshPglite();
    try {
      const first = { '001_t.sql': 'CREATE TABLE t (id int);' };
      // Migrations run before function files: a table using a function is made once the function exists.
      await migrate(db, schema(first, { 'total.sql': total('(a int) RETURNS int', 'SELECT a') }));
      const tables = { ...first, '002_c.sql': 'CREATE TABLE c (n int DEFAULT total(1));' };
      await migrate(db, schema(tables, { 'total.sql': total('(a int) RETURNS int', 'SELECT a') }));
      const changed = schema(tables, { 'total.sql': total('(a int) RETURNS int', 'SELECT a + 1') });
      await expect(migrate(db, changed)).rejects.toThrow(/depend/);
      expect(await db.query("SELECT to_regclass('c')::text AS c")).toEqual([{ c: 'c' }]);
    } finally {
      await db.close();
    }
  });
});

describe('loadSchema', () => {
  /** A sql/ folder with these files (paths below it), removed after `check`. */
  async function withSqlDir(files: Record<string, string>, check: (dir: string) => Promise<void>) {
    const dir = await mkdtemp(join(tmpdir(), 'sql-'));
    try {
      await mkdir(join(dir, 'migrations'));
      await mkdir(join(dir, 'functions'));
      for (const [path, sql] of Object.entries(files)) await writeFile(join(dir, path), sql);
      await check(dir);
    } finally {
      await rm(dir, { recursive: true });
    }
  }

  it('refuses a migration file that does not follow NNN_<what>.sql', async () => {
    await withSqlDir({ 'migrations/add-users.sql': 'SELECT 1;' }, async (dir) => {
      await expect(loadSchema(dir)).rejects.toThrow('migration file add-users.sql must be named NNN_<what>.sql');
    });
  });

  it('refuses a file beside migrations/ and functions/, such as a migration written for the layout before them', async () => {
    await withSqlDir({ '011_more.sql': 'CREATE TABLE more (id int);' }, async (dir) => {
      await expect(loadSchema(dir)).rejects.toThrow('sql/011_more.sql: sql/ holds only migrations/ (tables and indexes) and functions/ (one function a file)');
    });
  });

  it.each([
    ['a table', 'CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$; CREATE TABLE t (id int);', /may only create the function f and triggers that execute it, not: CREATE TABLE t/],
    ['a function of another name', 'CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$; CREATE FUNCTION g() RETURNS int LANGUAGE sql AS $$ SELECT 2 $$;', /not: CREATE FUNCTION g/],
    ['a trigger of another function', 'CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$; CREATE TRIGGER x AFTER INSERT ON t EXECUTE FUNCTION g();', /not: CREATE TRIGGER x/],
    ['no function at all', '-- nothing yet', /does not create f/],
  ])('refuses a function file that creates %s', async (_what, sql, message) => {
    await withSqlDir({ 'functions/f.sql': sql }, async (dir) => {
      await expect(loadSchema(dir)).rejects.toThrow(message);
    });
  });

  it('reads the project sql/: every function file passes', async () => {
    const sql = await loadSchema(SQL_DIR);
    expect(sql.functions.length).toBeGreaterThan(0);
    expect(sql.migrations.length).toBeGreaterThan(0);
  });
});

describe('migrate, many first runs at once on PostgreSQL 16', () => {
  // Deploys, local starts and test workers may all meet an empty database at the same moment.
  it('applies every migration and every function file exactly once, with no run failing', async () => {
    const sql = await loadSchema(SQL_DIR);
    const runners = 16;
    for (let round = 0; round < 4; round++) {
      const { url, drop } = await createTestDatabase();
      // Separate pools, so each run is its own client, as separate Lambdas or processes would be.
      const pools = Array.from({ length: runners }, () => openPostgres(url, { maxConnections: 1 }));
      try {
        const outcomes = await Promise.allSettled(pools.map((db) => migrate(db, sql)));
        const failures = outcomes.filter((outcome) => outcome.status === 'rejected');
        expect(failures.map((failure) => String((failure as PromiseRejectedResult).reason))).toEqual([]);
        const reports = outcomes.map((outcome) => (outcome as PromiseFulfilledResult<Awaited<ReturnType<typeof migrate>>>).value);
        for (const { name } of sql.migrations) {
          expect(reports.filter((report) => report.applied.includes(name))).toHaveLength(1);
          expect(reports.filter((report) => report.alreadyApplied.includes(name))).toHaveLength(runners - 1);
        }
        for (const { name } of sql.functions) expect(reports.filter((report) => report.defined.includes(name))).toHaveLength(1);
        for (const ledger of ['schema_migrations', 'schema_definitions']) {
          const [counted] = await pools[0]!.query<{ rows: unknown; names: unknown }>(`SELECT count(*) AS rows, count(DISTINCT name) AS names FROM ${ledger}`);
          const files = ledger === 'schema_migrations' ? sql.migrations : sql.functions;
          expect([readNumber(counted!.rows), readNumber(counted!.names)]).toEqual([files.length, files.length]);
        }
      } finally {
        await Promise.all(pools.map((db) => db.close()));
        await drop();
      }
    }
  });
});

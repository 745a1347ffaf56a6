import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll, beforeEach, inject } from 'vitest';
import { loadConfig } from '../../functions/core/config.js';
import { loadSchema, migrate } from '../../functions/db/migrate.js';
import type { Database } from '../../functions/db/port.js';
import type { ApiEvent } from '../../functions/handlers/http.js';
import type { ServiceDeps } from '../../functions/handlers/service.js';
import { SQL_DIR } from '../../functions/local/service.js';
import { engineNamed, type Engine } from './engines.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The engine of this vitest project (vitest.config.ts: one project per engine). */
    engine: string;
  }
}

/** The engine this test file runs on: its vitest project's. */
export function engineUnderTest(): Engine {
  return engineNamed(inject('engine'));
}

/** A migrated database of its own on the engine: the real thing the service runs on. */
export async function migratedDatabase(engine: Engine = engineUnderTest()): Promise<Database> {
  const db = await engine.open();
  try {
    await migrate(db, await loadSchema(SQL_DIR));
  } catch (error) {
    await db.close();
    throw error;
  }
  return db;
}

/**
 * One migrated database for the whole file, emptied before each test. Call at the top level of a test file;
 * the returned database forwards to the one opened in beforeAll.
 */
export function databaseEmptiedForEachTest(engine: Engine = engineUnderTest()): Database {
  let opened: Database | undefined;
  beforeAll(async () => {
    opened = await migratedDatabase(engine);
  });
  afterAll(async () => {
    await opened?.close();
  });
  beforeEach(async () => {
    await emptyDatabase(opened!);
  });
  return {
    query: (sql, params) => opened!.query(sql, params),
    transaction: (work) => opened!.transaction(work),
    close: async () => {},
  };
}

/**
 * For files that start the local service (`npm start`): each call gives the environment of a fresh database
 * of the engine; all of them are dropped after the file, once every service is closed.
 */
export function freshLocalDatabases(engine: Engine = engineUnderTest()): () => Promise<Record<string, string>> {
  const drops: (() => Promise<void>)[] = [];
  afterAll(async () => {
    await Promise.all(drops.splice(0).map((drop) => drop()));
  });
  return async () => {
    if (!engine.serve) throw new Error(`npm start cannot run on ${engine.name}`);
    const { env, drop } = await engine.serve();
    drops.push(drop);
    return env;
  };
}

/** Empties every table the service writes, so each test starts from "no users yet". */
export async function emptyDatabase(db: Database): Promise<void> {
  const tables = await db.query<{ tablename: string }>(
    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT IN ('schema_migrations', 'schema_definitions', 'real_user_count')",
  );
  await db.query(`TRUNCATE ${tables.map((table) => table.tablename).join(', ')}`);
  await db.query('UPDATE real_user_count SET users = 0');
}

/** A clock the test moves by hand. */
export function testClock(start: string) {
  let now = new Date(start);
  return {
    now: () => new Date(now),
    set: (iso: string) => void (now = new Date(iso)),
    advanceDays: (days: number) => void (now = new Date(now.getTime() + days * 86_400_000)),
  };
}

/** A logger whose lines the test can read back. */
export function capturingLog() {
  const lines: string[] = [];
  const logger = new Logger({ serviceName: 'days-since-test', logLevel: 'DEBUG' });
  const capture = (level: string) => (message: string, ...extra: unknown[]) => void lines.push(JSON.stringify({ level, message, extra }));
  return { lines, log: { info: capture('info'), warn: capture('warn'), error: capture('error') } as unknown as Pick<Logger, 'info' | 'warn' | 'error'>, logger };
}

export function testDeps(db: Database, overrides: Partial<ServiceDeps> & { env?: Record<string, string> } = {}): ServiceDeps {
  const { env = {}, ...rest } = overrides;
  let counter = 0;
  return {
    db,
    config: loadConfig(env),
    now: () => new Date(),
    newEventId: () => `server-${++counter}`,
    log: capturingLog().log,
    ...rest,
  };
}

export function post(path: string, body: unknown, headers: Record<string, string> = {}): ApiEvent {
  return {
    httpMethod: 'POST',
    path,
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    isBase64Encoded: false,
    queryStringParameters: null,
  };
}

export function get(path: string, query: Record<string, string> | null = null): ApiEvent {
  return { httpMethod: 'GET', path, headers: {}, body: null, isBase64Encoded: false, queryStringParameters: query };
}

export async function countRows(db: Database, table: string): Promise<number> {
  const [row] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
  return row!.n;
}

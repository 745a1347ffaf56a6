import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { loadSchema, migrate } from '../../functions/db/migrate.js';
import type { Database } from '../../functions/db/port.js';
import { openPostgres } from '../../functions/db/postgres.js';
import { SQL_DIR } from '../../functions/local/service.js';

/** A new, empty database on the run's PostgreSQL 16: its URL, and a drop for afterAll. */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const adminUrl = inject('postgresAdminUrl');
  const name = `t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** A migrated database of its own on PostgreSQL 16, through the pg adapter; close() also drops it. */
export async function migratedPostgres(options: { maxConnections?: number } = {}): Promise<Database & { url: string }> {
  const { url, drop } = await createTestDatabase();
  const db = openPostgres(url, options);
  await migrate(db, await loadSchema(SQL_DIR));
  return {
    url,
    query: (sql, params) => db.query(sql, params),
    transaction: (work) => db.transaction(work),
    async close() {
      await db.close();
      await drop();
    },
  };
}

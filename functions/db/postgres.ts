import pg from 'pg';
import { toPositional } from './named-params.js';
import type { Database, SqlParams } from './port.js';

export interface PostgresOptions {
  /** Most connections the pool opens at once. */
  maxConnections?: number;
  /** How long to wait for a server to accept and answer a new connection: a wrong host must fail, not hang. */
  connectTimeoutMs?: number;
}

type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

async function run<T>(client: Queryable, sql: string, params: SqlParams): Promise<T[]> {
  const { text, values } = toPositional(sql, params);
  return (await client.query(text, values)).rows as T[];
}

/**
 * The Database port over node-postgres: a pool for self-hosting on any PostgreSQL 16+ (`DATABASE_URL`) and for
 * the PostgreSQL 16 test bed. Every connection speaks UTC, so zone-less timestamps mean the same as on Aurora.
 */
export function openPostgres(connectionString: string, { maxConnections = 10, connectTimeoutMs = 10_000 }: PostgresOptions = {}): Database {
  const pool = new pg.Pool({
    connectionString,
    max: maxConnections,
    // node-postgres waits forever by default: a DATABASE_URL naming a host that drops packets froze `npm start`.
    connectionTimeoutMillis: connectTimeoutMs,
    options: '-c TimeZone=UTC',
  });
  // An idle pooled connection that the server drops must not crash the process: the next query reconnects.
  pool.on('error', () => {});
  const nested = (): never => {
    throw new Error('nested transactions are not supported');
  };
  return {
    query: (sql, params = {}) => run(pool, sql, params),
    async transaction(work) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await work({ query: (sql, params = {}) => run(client, sql, params), transaction: nested, close: async () => {} });
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}



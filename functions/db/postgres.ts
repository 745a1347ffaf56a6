import pg from 'pg';
import { toPositional } from './named-params.js';
import { asOutage } from './outage.js';
import { DatabaseUnavailableError, type Database, type SqlParams } from './port.js';

export interface PostgresOptions {
  /** Most connections the pool opens at once. */
  maxConnections?: number;
  /** How long to wait for a server to accept and answer a new connection: a wrong host must fail, not hang. */
  connectTimeoutMs?: number;
  /**
   * The server cancels a statement that runs longer (PostgreSQL's statement_timeout), so a stalled server (a lock
   * held elsewhere, a disk that stopped answering) gives a 503 instead of a request held open. 0: no limit (migrations).
   */
  statementTimeoutMs?: number;
}

/** Time on top of statement_timeout for the server's cancellation to reach us; past it the network is at fault. */
const NETWORK_MARGIN_MS = 2_000;

type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

async function run<T>(client: Queryable, sql: string, params: SqlParams): Promise<T[]> {
  const { text, values } = toPositional(sql, params);
  return (await asOutage(() => client.query(text, values))).rows as T[];
}

/**
 * The Database port over node-postgres: a pool for self-hosting on any PostgreSQL 16+ (`DATABASE_URL`) and for
 * the PostgreSQL 16 test bed. Every connection speaks UTC, so zone-less timestamps mean the same as on Aurora.
 * An outage (refused, reset, shut down, full, timed out) surfaces as DatabaseUnavailableError: a 503 with Retry-After.
 */
export function openPostgres(
  connectionString: string,
  { maxConnections = 10, connectTimeoutMs = 10_000, statementTimeoutMs = 0 }: PostgresOptions = {},
): Database {
  const pool = new pg.Pool({
    connectionString,
    max: maxConnections,
    // node-postgres waits forever by default: a DATABASE_URL naming a host that drops packets froze `npm start`.
    connectionTimeoutMillis: connectTimeoutMs,
    options: '-c TimeZone=UTC',
    ...(statementTimeoutMs > 0
      ? {
          statement_timeout: statementTimeoutMs,
          // A server cut off by the network cannot send its cancellation: give up on our side a little later.
          query_timeout: statementTimeoutMs + NETWORK_MARGIN_MS,
        }
      : {}),
    // A dead peer is noticed by the kernel's keepalive instead of never.
    keepAlive: true,
  });
  // An idle pooled connection that the server drops must not crash the process: the next query reconnects.
  pool.on('error', () => {});
  const nested = (): never => {
    throw new Error('nested transactions are not supported');
  };
  return {
    query: (sql, params = {}) => run(pool, sql, params),
    async transaction(work) {
      const client = await asOutage(() => pool.connect());
      let failure: unknown;
      try {
        await asOutage(() => client.query('BEGIN'));
        const result = await work({ query: (sql, params = {}) => run(client, sql, params), transaction: nested, close: async () => {} });
        await asOutage(() => client.query('COMMIT'));
        return result;
      } catch (error) {
        failure = error;
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      } finally {
        // A connection that failed mid-transaction may be broken: the pool replaces it rather than lending it again.
        client.release(failure instanceof DatabaseUnavailableError ? failure : undefined);
      }
    },
    // The pool keeps as many statements in flight as it has connections, less two for reads and /healthz.
    statementsInFlight: Math.max(1, maxConnections - 2),
    close: () => pool.end(),
  };
}

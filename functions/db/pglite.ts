import { PGlite } from '@electric-sql/pglite';
import { toPositional } from './named-params.js';
import type { Database, Row, SqlParams } from './port.js';

type Queryable = Pick<PGlite, 'query'>;

function adapter(pg: Queryable, transaction: Database['transaction'], close: () => Promise<void>): Database {
  return {
    async query<T = Row>(sql: string, params: SqlParams = {}) {
      const { text, values } = toPositional(sql, params);
      return (await pg.query<T>(text, values)).rows;
    },
    transaction,
    close,
  };
}

/**
 * Embedded PostgreSQL for the local run and the tests. `dataDir` is a folder to persist in,
 * or `memory` for a throwaway database.
 */
export async function openPglite(dataDir = 'memory'): Promise<Database> {
  const pg = await PGlite.create(dataDir === 'memory' ? undefined : dataDir);
  // Same zone as Aurora's default, so zone-less timestamps mean UTC on both adapters.
  await pg.exec("SET TIME ZONE 'UTC'");
  const nested = (): never => {
    throw new Error('nested transactions are not supported');
  };
  const self: Database = adapter(
    pg,
    (work) => pg.transaction((tx) => work(adapter(tx, nested, async () => {}))),
    () => pg.close(),
  );
  return self;
}

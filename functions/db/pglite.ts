import { PGlite } from '@electric-sql/pglite';
import { toPositional } from './named-params.js';
import { statisticsKeeper, type StatisticsKeeper } from './pglite-statistics.js';
import type { Database, Row, SqlParams } from './port.js';

type Queryable = Pick<PGlite, 'query'>;

function adapter(pg: Queryable, transaction: Database['transaction'], close: () => Promise<void>, ran: () => void = () => {}): Database {
  return {
    async query<T = Row>(sql: string, params: SqlParams = {}) {
      const { text, values } = toPositional(sql, params);
      const { rows } = await pg.query<T>(text, values);
      ran();
      return rows;
    },
    transaction,
    close,
  };
}

/** The local database: PGlite, plus the autoanalyze it lacks. */
export interface PgliteDatabase extends Database {
  statistics: StatisticsKeeper;
}

/**
 * Embedded PostgreSQL for the local run and the tests. `dataDir` is a folder to persist in,
 * or `memory` for a throwaway database. `loadDataDir` (PGlite's dumpDataDir) starts from that cluster instead of
 * running initdb, which costs seconds of WebAssembly each time: the tests boot one fresh cluster many times.
 */
export async function openPglite(dataDir = 'memory', { loadDataDir }: { loadDataDir?: Blob } = {}): Promise<PgliteDatabase> {
  const pg = await PGlite.create(dataDir === 'memory' ? undefined : dataDir, { loadDataDir });
  // Same zone as Aurora's default, so zone-less timestamps mean UTC on both adapters.
  await pg.exec("SET TIME ZONE 'UTC'");
  const statistics = statisticsKeeper(pg);
  const nested = (): never => {
    throw new Error('nested transactions are not supported');
  };
  const self = adapter(
    pg,
    async (work) => {
      const result = await pg.transaction((tx) => work(adapter(tx, nested, async () => {})));
      statistics.noteStatement();
      return result;
    },
    async () => {
      await statistics.stop();
      await pg.close();
    },
    () => statistics.noteStatement(),
  );
  return { ...self, statistics };
}

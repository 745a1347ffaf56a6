/** PGlite, on this thread or its own (functions/db/pglite.ts). */
interface Queryable {
  query<T>(text: string, values?: unknown[]): Promise<{ rows: T[] }>;
  exec(sql: string): Promise<unknown>;
}

/**
 * PGlite has no autovacuum, so nothing re-ANALYZEs a table as it grows, and nothing tells PL/pgSQL to replace the
 * generic plan it cached for `record_interactions` on its sixth call. Made while the tables held a few pages, that
 * plan reads `users` by sequential scan once per interaction (measured: 36,663 buffers for one batch of 500 at
 * 15,000 rows), so each batch costs in proportion to history. An ANALYZE invalidates every plan that reads the table,
 * and the next call plans again at the table's present size: index scans.
 *
 * The stand-in follows autoanalyze's rule (`autovacuum_analyze_scale_factor` 0.1 plus a threshold), counted in pages
 * because a table's present size is exact and immediate where the statistics counters are flushed late: a table is
 * analyzed once it has grown by a tenth, plus a few pages, since its last ANALYZE. Between two statements, one table
 * at a time, with a turn of the event loop between them so that requests keep being answered.
 *
 * It stands in for the checkpointer too: single-user PGlite never checkpoints while it runs, so its WAL was never
 * recycled and grew by about 2 KB per interaction, in memory with DATA_DIR=memory. The same passes CHECKPOINT once
 * `checkpointWalBytes` of WAL were written since the last one; the segments are then reused, not added.
 */
export interface StatisticsKeeper {
  /** Counts a statement that ran; every `checkEvery` statements or `checkEveryMs`, looks for grown tables after the current turn. */
  noteStatement(): void;
  /** Analyzes every table of the schema that has grown since its last ANALYZE, and checkpoints when the WAL is due; returns the tables' names. */
  analyzeGrownTables(): Promise<string[]>;
  /** Waits for a pass under way, and starts no other. */
  stop(): Promise<void>;
}

export interface StatisticsSettings {
  /** Statements between two looks at the tables' sizes (one catalog query, a few milliseconds)... */
  checkEvery: number;
  /** ...or time: a few large statements can grow a table by a tenth. */
  checkEveryMs: number;
  /** Growth, as a fraction of the pages at the last ANALYZE, that makes a table due (autoanalyze's default 0.1). */
  scaleFactor: number;
  /** Pages a table may grow by on top of that before it is due: tiny tables are not analyzed on every row. */
  thresholdPages: number;
  /**
   * ANALYZE samples 300 rows per unit of statistics target. At PostgreSQL's default (100) one ANALYZE of a
   * 200,000-row table held the thread 556 ms; at 10, 174 ms. Ten buckets are plenty for these reads' range estimates.
   */
  statisticsTarget: number;
  /**
   * WAL written since the last checkpoint that makes a pass checkpoint: 64 MB is about 37,000 interactions of the
   * backfill bench. It bounds the WAL. It costs little only because PGLITE_SETTINGS turns full_page_writes off: with
   * whole pages logged after each checkpoint, the WAL grew to about 20 kB per interaction at 1,000,000 stored, and
   * one run made 301 checkpoints instead of 27.
   */
  checkpointWalBytes: number;
}

export const DEFAULT_STATISTICS_SETTINGS: StatisticsSettings = {
  checkEvery: 16,
  checkEveryMs: 250,
  scaleFactor: 0.1,
  thresholdPages: 4,
  statisticsTarget: 10,
  checkpointWalBytes: 64 * 2 ** 20,
};

const WAL_SINCE_CHECKPOINT = `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), redo_lsn)::float8 AS bytes FROM pg_control_checkpoint()`;

// relpages is what the last ANALYZE (or CREATE INDEX) saw; pg_relation_size is the table now.
const GROWN_TABLES = `
  SELECT c.oid::regclass::text AS name
  FROM pg_class c
  WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
    AND pg_relation_size(c.oid) / current_setting('block_size')::int > greatest(c.relpages, 0) * (1 + $1::float8) + $2::int
  ORDER BY pg_relation_size(c.oid)`;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export function statisticsKeeper(pg: Queryable, settings: StatisticsSettings = DEFAULT_STATISTICS_SETTINGS): StatisticsKeeper {
  let statements = 0;
  let lastCheck = performance.now();
  let pass: Promise<string[]> | null = null;
  let stopped = false;

  async function analyzeGrown(): Promise<string[]> {
    const { rows } = await pg.query<{ name: string }>(GROWN_TABLES, [settings.scaleFactor, settings.thresholdPages]);
    for (const { name } of rows) {
      if (stopped) break;
      await nextTurn();
      // The name comes from regclass::text, quoted by PostgreSQL itself where it needs quotes.
      await pg.exec(`SET default_statistics_target = ${settings.statisticsTarget}; ANALYZE ${name}; RESET default_statistics_target`);
    }
    const { rows: wal } = await pg.query<{ bytes: number }>(WAL_SINCE_CHECKPOINT);
    if (!stopped && wal[0]!.bytes >= settings.checkpointWalBytes) {
      await nextTurn();
      await pg.exec('CHECKPOINT');
    }
    return rows.map((row) => row.name);
  }

  function analyzeGrownTables(): Promise<string[]> {
    pass ??= analyzeGrown().finally(() => (pass = null));
    return pass;
  }

  return {
    noteStatement() {
      if (stopped || pass) return;
      if (++statements < settings.checkEvery && performance.now() - lastCheck < settings.checkEveryMs) return;
      statements = 0;
      lastCheck = performance.now();
      // After the current turn: the statement's caller gets its answer first.
      pass = nextTurn()
        .then(analyzeGrown)
        // A failed pass (the database closing under it) only means the next one comes sooner.
        .catch(() => [])
        .finally(() => (pass = null));
    },
    analyzeGrownTables,
    async stop() {
      stopped = true;
      await pass;
    },
  };
}

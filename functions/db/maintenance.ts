import { json, type Database } from './port.js';

/** The tables the recording statement writes (sql/: record_interactions and the rollups it keeps). */
export const FOLDED_TABLES = [
  'interactions',
  'users',
  'user_email_domains',
  'real_users',
  'real_user_count',
  'real_user_activity',
  'real_user_type_counts',
  'daily_real_activity',
  'daily_real_totals',
] as const;

// PostgreSQL's own autovacuum rule (https://www.postgresql.org/docs/16/routine-vacuuming.html#AUTOVACUUM), with the
// server's settings: dead or newly inserted rows past threshold + scale factor × rows call for VACUUM, changed rows for ANALYZE.
const READ_DUE = `
SELECT s.relname::text AS table_name,
  (s.n_dead_tup > current_setting('autovacuum_vacuum_threshold')::float8
                  + current_setting('autovacuum_vacuum_scale_factor')::float8 * greatest(c.reltuples, 0)
   OR s.n_ins_since_vacuum > current_setting('autovacuum_vacuum_insert_threshold')::float8
                  + current_setting('autovacuum_vacuum_insert_scale_factor')::float8 * greatest(c.reltuples, 0)) AS vacuum_due,
  s.n_mod_since_analyze > current_setting('autovacuum_analyze_threshold')::float8
                  + current_setting('autovacuum_analyze_scale_factor')::float8 * greatest(c.reltuples, 0) AS analyze_due
FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
WHERE s.schemaname = current_schema() AND s.relname::text IN (SELECT jsonb_array_elements_text(:tables::jsonb))
ORDER BY s.relname`;

export interface MaintenanceReport {
  vacuumed: string[];
  analyzed: string[];
}

/**
 * Makes up for the autovacuum a short auto-pause cancels: Aurora Serverless v2 pauses after the idle delay even while
 * autovacuum runs (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2-auto-pause.html,
 * "How auto-pause works"), and with folds every few hours it may never finish. So the fold, while Aurora is awake for
 * it, runs VACUUM (ANALYZE) or ANALYZE on the tables it wrote when PostgreSQL's own thresholds say they are due.
 */
export async function maintainFoldedTables(db: Database): Promise<MaintenanceReport> {
  const due = await db.query<{ table_name: string; vacuum_due: boolean; analyze_due: boolean }>(READ_DUE, { tables: json(FOLDED_TABLES) });
  const report: MaintenanceReport = { vacuumed: [], analyzed: [] };
  for (const table of due) {
    // Names come from FOLDED_TABLES, never from input. VACUUM runs outside a transaction: one autocommit call each.
    if (table.vacuum_due) {
      await db.query(`VACUUM (ANALYZE) "${table.table_name}"`);
      report.vacuumed.push(table.table_name);
    } else if (table.analyze_due) {
      await db.query(`ANALYZE "${table.table_name}"`);
      report.analyzed.push(table.table_name);
    }
  }
  return report;
}

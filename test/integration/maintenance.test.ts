import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../functions/core/config.js';
import { toStore } from '../../functions/core/recording.js';
import { dataApiDatabase, DEFAULT_RETRY } from '../../functions/db/data-api.js';
import { recordInteractions } from '../../functions/db/interactions.js';
import { FOLDED_TABLES, maintainFoldedTables } from '../../functions/db/maintenance.js';
import type { Database } from '../../functions/db/port.js';
import { openDataApiStandIn, type DataApiStandIn } from '../support/data-api-stand-in.js';
import { migratedPostgres } from '../support/postgres.js';

/*
 * The maintenance a short auto-pause cancels, made up for by the drain: through the Data API stand-in on PostgreSQL 16,
 * with autovacuum off so that only the drain's statements can have vacuumed or analyzed anything.
 */
let direct: Database & { url: string };
let standIn: DataApiStandIn;
beforeAll(async () => {
  direct = await migratedPostgres();
  standIn = await openDataApiStandIn(direct.url);
  for (const table of FOLDED_TABLES) await direct.query(`ALTER TABLE ${table} SET (autovacuum_enabled = false)`);
}, 120_000);
afterAll(async () => {
  await standIn?.close();
  await direct?.close();
});

const stats = async () =>
  direct.query<{ relname: string; vacuumed: boolean; analyzed: boolean }>(
    `SELECT relname::text AS relname, last_vacuum IS NOT NULL AS vacuumed, last_analyze IS NOT NULL AS analyzed
     FROM pg_stat_user_tables WHERE relname::text IN ('interactions', 'users', 'weekly_check_ins') ORDER BY relname`,
  );

describe('maintenance after a fold', () => {
  it('vacuums or analyzes the tables the fold wrote once PostgreSQL would, and leaves the rest alone', async () => {
    const db = dataApiDatabase(standIn.client, standIn.target, DEFAULT_RETRY, { continueAfterTimeout: true });
    // Nothing written yet: nothing is due.
    expect(await maintainFoldedTables(db)).toEqual({ vacuumed: [], analyzed: [] });

    const now = new Date('2026-03-01T00:00:00Z');
    let n = 0;
    // Past PostgreSQL's insert threshold (1,000 rows) for interactions; far from it for users (60).
    for (let statement = 0; statement < 3; statement++) {
      const batch = Array.from({ length: 400 }, (_, i) =>
        toStore({ user_id: `${String(i % 60).padStart(8, '0')}-0000-4000-8000-000000000000`, interaction_type: 'login' }, now, () => `m-${++n}`, loadConfig({})),
      );
      await recordInteractions(direct, batch, []);
    }
    // PostgreSQL's statistics are reported asynchronously: wait until the inserts show.
    for (let tries = 0; tries < 50; tries++) {
      const [row] = await direct.query<{ n: number }>("SELECT n_ins_since_vacuum::int AS n FROM pg_stat_user_tables WHERE relname = 'interactions'");
      if (row!.n >= 1_200) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    const report = await maintainFoldedTables(db);
    expect(report.vacuumed).toEqual(expect.arrayContaining(['interactions']));
    // users took 60 rows: past the analyze threshold (50 + 10 %), not the vacuum one.
    expect(report.analyzed).toEqual(expect.arrayContaining(['users']));
    expect([...report.vacuumed, ...report.analyzed].every((table) => (FOLDED_TABLES as readonly string[]).includes(table))).toBe(true);
    const after = await stats();
    expect(after.find((row) => row.relname === 'interactions')).toEqual({ relname: 'interactions', vacuumed: true, analyzed: true });
    expect(after.find((row) => row.relname === 'users')).toEqual({ relname: 'users', vacuumed: false, analyzed: true });
    expect(after.find((row) => row.relname === 'weekly_check_ins')).toEqual({ relname: 'weekly_check_ins', vacuumed: false, analyzed: false });
    // Every statement went through the Data API's rules, VACUUM outside any transaction.
    expect(standIn.calls.filter((call) => call.error !== undefined)).toEqual([]);
    expect(standIn.calls.some((call) => /^VACUUM \(ANALYZE\) "interactions"$/.test(call.input.sql ?? ''))).toBe(true);

    // Done: due no longer.
    expect((await maintainFoldedTables(db)).vacuumed).not.toContain('interactions');
  });
});

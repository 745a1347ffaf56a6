import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../functions/core/config.js';
import { toStore } from '../../functions/core/recording.js';
import { recordInteractions, RECORD_INTERACTIONS } from '../../functions/db/interactions.js';
import { json, type Database } from '../../functions/db/port.js';
import { migratedPostgres } from '../support/postgres.js';

// Issue 21: on a fresh PostgreSQL, the first 100,000 interactions over HTTP were the slowest (batch p95 2,481 ms, then
// 176 ms). PL/pgSQL settles on a generic plan for record_interactions at a connection's sixth call; made while the
// tables were empty, it stayed on that long-lived connection until autoanalyze, a minute or more later.

const BATCH = 500;
const DAY_MS = 86_400_000;
const SETTINGS = loadConfig({});
const TYPES = ['signup', 'login', 'coach_call', 'agent_run', 'decision', 'export', 'feedback', 'payment', 'page_view'] as const;
/** A backfill, as the bench sends it: nine users in ten new, each interaction on one of the last 365 days. */
const batchOf = (first: number) =>
  Array.from({ length: BATCH }, (_, i) => {
    const n = first + i;
    const user = n % 10 === 0 && n > 0 ? (n * 7919) % n : n;
    return toStore(
      {
        event_id: `plan-${n}`,
        user_id: `00000000-0000-4000-8000-${user.toString(16).padStart(12, '0')}`,
        interaction_type: TYPES[n % TYPES.length]!,
        occurred_at: new Date(Date.now() - 60_000 - ((n * 7919) % 365) * DAY_MS).toISOString(),
      },
      new Date(),
      () => '',
      SETTINGS,
    );
  });

/** Shared buffers one batch of 500 new users touches through the recording statement, on the connection's cached plan. */
async function buffersForOneBatch(db: Database, first: number): Promise<number> {
  const [row] = await db.query<{ 'QUERY PLAN': Array<{ Plan: Record<string, number> }> }>(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${RECORD_INTERACTIONS}`, {
    interactions: json(batchOf(first)),
    internal_email_domains: json([]),
  });
  const plan = row!['QUERY PLAN'][0]!.Plan;
  return plan['Shared Hit Blocks']! + plan['Shared Read Blocks']!;
}

describe('recording on a fresh PostgreSQL, on one long-lived connection', () => {
  let db: Database;
  beforeAll(async () => {
    // One connection: every call below is the same session, as a pooled connection lives on.
    db = await migratedPostgres({ maxConnections: 1 });
  });
  afterAll(async () => {
    await db?.close();
  });

  it('plans each call at the tables\' present size: six calls on empty tables do not leave 20,000 later ones on their plan', async () => {
    // No ANALYZE runs here (autovacuum is a minute away at best): only what the session cached can differ.
    for (let call = 0; call < 6; call++) await recordInteractions(db, []);
    for (let batch = 0; batch < 40; batch++) await recordInteractions(db, batchOf(batch * BATCH));
    const perInteraction = (await buffersForOneBatch(db, 40 * BATCH)) / BATCH;
    // Index lookups cost about 60 buffers an interaction across the table and its rollups, whatever is stored; a
    // plan made on empty tables scanned them instead, at a cost that grows with every batch.
    expect(perInteraction).toBeLessThan(100);
  }, 120_000);
});

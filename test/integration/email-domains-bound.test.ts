import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../functions/core/config.js';
import { toStore, type InteractionToStore } from '../../functions/core/recording.js';
import { recordInteractions } from '../../functions/db/interactions.js';
import { readHeadline } from '../../functions/db/metrics.js';
import type { Database, Row, SqlParams } from '../../functions/db/port.js';
import { createIngestHandler } from '../../functions/handlers/ingest.js';
import { post, testDeps } from '../support/harness.js';
import { migratedPostgres } from '../support/postgres.js';

// Some backends forward many distinct emails under one user_id (shared demo accounts, aliases, tests). The Data API
// refuses a response over 1 MiB and a row over 64 KB, so what recording stores and returns must not grow with them.

const SHARED_DEMO = '5e1a7e00-0000-4000-8000-000000000001';
const ALIAS_TESTER = '5e1a7e00-0000-4000-8000-000000000002';
const NOW = new Date('2026-02-08T12:00:00Z');
const env = { INTERNAL_EMAIL_DOMAINS: 'sustainnet.io' };
const DOMAINS = 3000;

const item = (user: string, n: number, domain: string): InteractionToStore =>
  toStore(
    { event_id: `${user}-${n}`, user_id: user, interaction_type: 'login', occurred_at: new Date(NOW.getTime() - n * 1000).toISOString(), context: { email: `someone@${domain}` } },
    NOW,
    () => 'unused',
    loadConfig(env),
  );

/** The port, remembering what each statement returned: the size the Data API would have to send back. */
function measuring(db: Database) {
  const returned: Row[][] = [];
  const port: Database = {
    async query<T>(sql: string, params?: SqlParams) {
      const rows = await db.query<T>(sql, params);
      returned.push(rows as Row[]);
      return rows;
    },
    transaction: (work) => db.transaction(work),
    close: async () => {},
  };
  return { port, returned };
}

const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), 'utf8');

describe('a user with thousands of email domains', () => {
  let db: Database;
  beforeAll(async () => {
    db = await migratedPostgres();
    // 3,000 distinct domains each for two users; the team's domain is one among the demo account's thousands.
    for (const user of [SHARED_DEMO, ALIAS_TESTER]) {
      for (let start = 0; start < DOMAINS; start += 500) {
        const batch = Array.from({ length: 500 }, (_, i) => start + i).map((n) =>
          item(user, n, user === SHARED_DEMO && n === 1777 ? 'sustainnet.io' : `alias-${n}.customer-domain.example`),
        );
        await recordInteractions(db, batch);
      }
    }
  }, 120_000);
  afterAll(async () => {
    await db?.close();
  });

  it('gets a bounded response for a 500-item batch, and keeps every stored row small', async () => {
    const { port, returned } = measuring(db);
    const batch = Array.from({ length: 500 }, (_, i) => item(ALIAS_TESTER, DOMAINS + i, `fresh-${i}.customer-domain.example`));
    await recordInteractions(port, batch, ['sustainnet.io']);
    const [rows] = returned;
    expect(rows).toHaveLength(500);
    // A few small columns per row, whatever the user's history: far under the Data API's 1 MiB and 64 KB.
    expect(bytes(rows)).toBeLessThan(100 * 1024);
    expect(Math.max(...rows!.map(bytes))).toBeLessThan(300);

    const [largest] = await db.query<{ bytes: number }>(
      `SELECT max(pg_column_size(u.*))::int AS bytes FROM users u WHERE user_id IN (:demo, :tester)`,
      { demo: SHARED_DEMO, tester: ALIAS_TESTER },
    );
    expect(largest!.bytes).toBeLessThan(200);
    const [domains] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM user_email_domains WHERE user_id = :u', { u: ALIAS_TESTER });
    expect(domains!.n).toBe(DOMAINS + 500);
  });

  it('still finds the one internal domain among thousands, when recording and when reading', async () => {
    const ingest = createIngestHandler(testDeps(db, { env, now: () => NOW }));
    const result = await ingest(
      post('/metrics/interactions', {
        interactions: [
          { event_id: 'demo-again', user_id: SHARED_DEMO, interaction_type: 'login', context: { email: 'sales@prospect.example' } },
          { event_id: 'tester-again', user_id: ALIAS_TESTER, interaction_type: 'login', context: { email: 'qa+9999@other.example' } },
        ],
      }),
    );
    expect(JSON.parse(result.body).results).toEqual([
      { event_id: 'demo-again', status: 'recorded', counted: false, reason: 'internal_user' },
      { event_id: 'tester-again', status: 'recorded', counted: true, reason: null },
    ]);
    const headline = await readHeadline(db, loadConfig(env).internal);
    expect(headline).toEqual({ lastRealInteractionAt: NOW, totalRealUsers: 1 });
  });
});

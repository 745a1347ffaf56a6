import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../functions/core/config.js';
import { toStore, type InteractionToStore } from '../../functions/core/recording.js';
import { readDailyHistory } from '../../functions/db/history.js';
import { recordInteractions } from '../../functions/db/interactions.js';
import { readHeadline, readPulse } from '../../functions/db/metrics.js';
import { readMilestoneProgress } from '../../functions/db/milestones.js';
import { loadMigrations, migrate } from '../../functions/db/migrate.js';
import { json, type Database } from '../../functions/db/port.js';
import { openPostgres } from '../../functions/db/postgres.js';
import { SQL_DIR } from '../../functions/local/service.js';
import { createTestDatabase } from '../support/postgres.js';
import { expectRollupsToEqualRecount } from '../support/recount.js';
import { freshPglite } from '../support/pglite-template.js';

// Migrations that change how the counters are kept, run on a database that already holds data (a PGlite data
// folder, an Aurora cluster): it must come out of each with the same numbers, and record on as a fresh one does.
// sql/007 reshapes the counters into shards and drops users.email_domains.

const NOW = new Date('2026-03-01T12:00:00Z');
const config = loadConfig({ INTERNAL_EMAIL_DOMAINS: 'team.example', INTERNAL_USER_IDS: '00000000-0000-4000-8000-000000000003' });
const user = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

function traffic(count: number, offset: number): InteractionToStore[] {
  return Array.from({ length: count }, (_, i) => {
    const n = i + offset;
    return toStore(
      {
        event_id: `m-${n}`,
        user_id: user(n % 37),
        interaction_type: (['login', 'payment', 'page_view', 'agent_run', 'signup'] as const)[n % 5]!,
        // Out of order over 90 days, so later batches backdate users' first days.
        occurred_at: new Date(NOW.getTime() - ((n * 7919) % 90) * 86_400_000 - (n % 13) * 3_600_000).toISOString(),
        context: {
          ...(n % 37 === 7 && n % 2 === 0 ? { email: `x${n}@team.example` } : n % 3 === 0 ? { email: `x${n}@mail${n % 4}.example` } : {}),
          ...(n % 37 === 9 && n % 5 === 0 ? { internal: true } : {}),
          ...(n % 17 === 0 ? { test: true } : {}),
        },
      },
      NOW,
      () => 'unused',
    );
  });
}

const reads = async (db: Database) => ({
  headline: await readHeadline(db, config.internal),
  pulse: await readPulse(db, config.internal, NOW),
  history: await readDailyHistory(db, config.internal, { from: '2025-12-01', to: '2026-03-01' }),
  milestones: await readMilestoneProgress(db, config.internal, config.milestones, NOW),
});

/** Records through today's recording statement, 200 at a time. */
async function recordInBatches(db: Database, items: InteractionToStore[]) {
  for (let i = 0; i < items.length; i += 200) await recordInteractions(db, items.slice(i, i + 200), config.internal.emailDomains);
}

/** After the migration: `after` on the migrated database, everything on the fresh one; both must read the same. */
async function expectToRecordOnAsFresh(older: Database, fresh: Database, before: InteractionToStore[], after: InteractionToStore[]) {
  await recordInBatches(older, after);
  await recordInBatches(fresh, [...before, ...after]);
  await expectRollupsToEqualRecount(older);
  expect(await reads(older)).toEqual(await reads(fresh));
}

const ENGINES: Array<[string, () => Promise<{ db: Database; drop: () => Promise<void> }>]> = [
  ['PGlite', async () => ({ db: await freshPglite(), drop: async () => {} })],
  ['PostgreSQL 16', async () => {
    const { url, drop } = await createTestDatabase();
    return { db: openPostgres(url), drop };
  }],
];

/** For each test of the block: `older` migrated up to the migration named `cut` (not included), `fresh` through all. */
function olderAndFresh(open: (typeof ENGINES)[number][1], cut: string) {
  const dbs = {} as { older: Database; fresh: Database };
  let drops: Array<() => Promise<void>> = [];
  beforeAll(async () => {
    const migrations = await loadMigrations(SQL_DIR);
    const a = await open();
    const b = await open();
    dbs.older = a.db;
    dbs.fresh = b.db;
    drops = [a.drop, b.drop];
    await migrate(dbs.older, migrations.filter((migration) => migration.name < cut));
    await migrate(dbs.fresh, migrations);
  }, 180_000);
  afterAll(async () => {
    await dbs.older?.close();
    await dbs.fresh?.close();
    for (const drop of drops) await drop();
  });
  return dbs;
}

describe.each(ENGINES)('migrating a database recorded under 001-006 to 007 on %s', (_engine, open) => {
  const dbs = olderAndFresh(open, '007_');

  it('keeps every count, moves every email domain, and records on as a fresh database does', async () => {
    const { older, fresh } = dbs;
    const before = traffic(600, 0);
    const after = traffic(400, 600);
    // Recorded as the code of that time did, through sql/005's function.
    for (let i = 0; i < before.length; i += 200) {
      await older.query('SELECT * FROM record_interactions(:interactions::jsonb)', { interactions: json(before.slice(i, i + 200)) });
    }
    // A domain only the old column knew (user_email_domains was written beside it; make sure nothing is lost).
    await older.query(`UPDATE users SET email_domains = email_domains || '{team.example}' WHERE user_id = :u::uuid`, { u: user(5) });
    const was = await reads(older);

    await migrate(older, await loadMigrations(SQL_DIR));
    expect(await older.query("SELECT column_name FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'email_domains'")).toEqual([]);
    expect(await older.query("SELECT 1 AS found FROM user_email_domains WHERE email_domain = 'team.example' AND user_id = :u::uuid", { u: user(5) })).toEqual([{ found: 1 }]);
    const migrated = await reads(older);
    // user 5 is now known internal by the domain that only the old column held; every other number is as it was.
    expect(migrated.headline.totalRealUsers).toBe(was.headline.totalRealUsers - 1);
    await older.query("DELETE FROM user_email_domains WHERE email_domain = 'team.example' AND user_id = :u::uuid", { u: user(5) });
    expect(await reads(older)).toEqual(was);

    await expectToRecordOnAsFresh(older, fresh, before, after);
  });
});

// sql/010 drops the triggers that kept the counters on insert and counts in the recording statement instead: counts
// taken by the triggers before it and by the statement after it must add up to a recount, as on a fresh database.
describe.each(ENGINES)('migrating a database recorded under 007-009 to 010 on %s', (_engine, open) => {
  const dbs = olderAndFresh(open, '010_');

  it('keeps every count and counts on as a fresh database does', async () => {
    const { older, fresh } = dbs;
    const before = traffic(600, 0);
    const after = traffic(400, 600);
    await recordInBatches(older, before);
    expect(await older.query("SELECT count(*)::int AS triggers FROM pg_trigger WHERE tgname LIKE '%added'")).toEqual([{ triggers: 3 }]);
    const was = await reads(older);

    await migrate(older, await loadMigrations(SQL_DIR));
    expect(await older.query("SELECT count(*)::int AS triggers FROM pg_trigger WHERE tgname LIKE '%added'")).toEqual([{ triggers: 0 }]);
    expect(await reads(older)).toEqual(was);

    // Returning users, new users, and interactions older than a user's first day (their first day moves earlier).
    await expectToRecordOnAsFresh(older, fresh, before, after);
  });
});

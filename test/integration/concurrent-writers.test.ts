import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../functions/core/config.js';
import type { InteractionInput } from '../../functions/core/interaction.js';
import { DEFAULT_COUNTING_TYPES } from '../../functions/core/interaction.js';
import type { Milestone } from '../../functions/core/milestones.js';
import { toStore, type InteractionToStore } from '../../functions/core/recording.js';
import { readDailyHistory } from '../../functions/db/history.js';
import { readExclusions, readHeadline, readLastRealByType, readPulse } from '../../functions/db/metrics.js';
import { readMilestoneProgress } from '../../functions/db/milestones.js';
import type { Database } from '../../functions/db/port.js';
import { createIngestHandler } from '../../functions/handlers/ingest.js';
import { capturingLog, post, testDeps } from '../support/harness.js';
import { createTestDatabase, migratedPostgres } from '../support/postgres.js';
import { openDataApiStandIn } from '../support/data-api-stand-in.js';
import { dataApiDatabase, DEFAULT_RETRY } from '../../functions/db/data-api.js';
import { loadSchema, migrate } from '../../functions/db/migrate.js';
import { openPostgres } from '../../functions/db/postgres.js';
import { SQL_DIR } from '../../functions/local/service.js';
import { expectRollupsToEqualRecount } from '../support/recount.js';

// Many Lambdas recording at once, as AWS runs them: each writer has its own adapter (so its own group-commit
// queue) on one shared database. Afterwards every rollup must equal a recount, every read must equal an oracle
// computed here from the interactions sent, and the server must have seen no deadlock.

/** One shared database, and the Database each writer uses (a separate object each, as each Lambda has its own). */
interface Bed {
  db: Database;
  /** Straight to PostgreSQL: the test's own whole-table checks would pass the Data API's 1 MiB response limit. */
  inspect: Database;
  writer(index: number): Database;
  close(): Promise<void>;
}

const WRITERS = 6;

/** Each writer its own port object over one shared pool or client: adding an engine is one line below. */
function bedOver(db: Database, inspect: Database = db, close = () => db.close()): Bed {
  return {
    db,
    inspect,
    writer: () => ({ query: (sql, params) => db.query(sql, params), transaction: (work) => db.transaction(work), close: async () => {} }),
    close,
  };
}

async function dataApiBed(): Promise<Bed> {
  const { url, drop } = await createTestDatabase();
  const standIn = await openDataApiStandIn(url);
  await migrate(dataApiDatabase(standIn.client, standIn.target, DEFAULT_RETRY, { continueAfterTimeout: true }), await loadSchema(SQL_DIR));
  const direct = openPostgres(url);
  return bedOver(standIn.db, direct, async () => {
    await standIn.close();
    await direct.close();
    await drop();
  });
}

const engines: Array<[string, () => Promise<Bed>]> = [
  ['PostgreSQL 16 through pg', async () => bedOver(await migratedPostgres({ maxConnections: WRITERS + 2 }))],
  ['PostgreSQL 16 through the Data API stand-in', dataApiBed],
];

const NOW = new Date('2026-03-01T12:00:00Z');
const DAY_MS = 86_400_000;
const TEAM_DOMAIN = 'team.example';
const FOUNDER = '00000000-0000-4000-8000-00000000f00d';
const env = { INTERNAL_EMAIL_DOMAINS: TEAM_DOMAIN, INTERNAL_USER_IDS: FOUNDER };
const config = loadConfig(env);
const MILESTONES: Milestone[] = [
  { name: 'first', target_date: '2026-01-10', measure: 'total_real_users', target: 1 },
  { name: 'many', target_date: '2026-02-10', measure: 'total_real_users', target: 900 },
  { name: 'paying', target_date: '2026-02-10', measure: 'paying_users', target: 150 },
  { name: 'active', target_date: '2026-02-10', measure: 'active_real_users_30d', target: 400 },
];

const userId = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

function random(seed: number) {
  let state = seed;
  return () => (state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0) / 2 ** 32;
}

/**
 * What the writers send: users drawn from one pool (so writers overlap on users and on days), times over 60
 * days in no order (so many arrive backdated, before what is already known of their user), some users
 * revealed internal by context.internal or a team email part-way through their history, test traffic, scripts,
 * landing-page visits, and a share of event_ids sent by two writers (and repeated inside one batch).
 */
function plan(seed: number, writers: number, batchesPerWriter: number, batchSize: number): InteractionInput[][][] {
  const next = random(seed);
  const users = 5000;
  const pick = <T,>(list: readonly T[]) => list[Math.floor(next() * list.length)]!;
  const shared: InteractionInput[] = [];
  let serial = 0;
  const one = (): InteractionInput => {
    const n = Math.floor(next() * users);
    const roll = next();
    const context: InteractionInput['context'] = {};
    if (n % 97 === 0 && roll < 0.3) context.internal = true;
    if (n % 89 === 0 && roll < 0.4) context.email = `dev${n}@${TEAM_DOMAIN}`;
    else if (roll < 0.5) context.email = `u${n}@mail${n % 7}.example`;
    if (roll > 0.95) context.test = true;
    else if (roll > 0.9) context.user_agent = 'curl/8.5.0';
    return {
      event_id: `ev-${seed}-${serial++}`,
      user_id: n === 1 ? FOUNDER : userId(n),
      interaction_type: roll > 0.85 && roll <= 0.9 ? 'page_view' : pick([...DEFAULT_COUNTING_TYPES, 'payment', 'signup'] as const),
      occurred_at: new Date(NOW.getTime() - 60_000 - next() * 365 * DAY_MS).toISOString(),
      context,
    };
  };
  return Array.from({ length: writers }, () =>
    Array.from({ length: batchesPerWriter }, () => {
      const batch: InteractionInput[] = [];
      while (batch.length < batchSize) {
        const roll = next();
        if (roll < 0.04 && shared.length > 0) batch.push(pick(shared));
        else if (roll < 0.05 && batch.length > 0) batch.push(batch[Math.floor(next() * batch.length)]!);
        else {
          const item = one();
          if (roll < 0.1) shared.push(item);
          batch.push(item);
        }
      }
      return batch;
    }),
  );
}

/** The test's own reading of the raw interactions: what each read must answer. */
function oracle(sent: InteractionInput[]) {
  const byEvent = new Map<string, InteractionToStore>();
  for (const input of sent) if (!byEvent.has(input.event_id!)) byEvent.set(input.event_id!, toStore(input, NOW, () => 'unused', config));
  const stored = [...byEvent.values()];
  const internal = new Set<string>([FOUNDER]);
  for (const item of stored) if (item.marked_internal || item.email_domain === TEAM_DOMAIN) internal.add(item.user_id);
  const real = stored.filter((item) => item.exclusion_reason === null && !internal.has(item.user_id));
  const at = (item: InteractionToStore) => Date.parse(item.occurred_at);
  const day = (item: InteractionToStore) => item.occurred_at.slice(0, 10);

  const firstReal = new Map<string, number>();
  const lastReal = new Map<string, number>();
  const firstPayment = new Map<string, number>();
  const lastByType = new Map<string, number>();
  // Page views are listed (as not counting) once any was stored, with the last one from a user who is not internal.
  let lastPageView: number | null | undefined;
  for (const item of stored) {
    if (item.exclusion_reason !== 'not_engagement') continue;
    lastPageView ??= null;
    if (!internal.has(item.user_id)) lastPageView = Math.max(lastPageView ?? -Infinity, at(item));
  }
  const activeByDay = new Map<string, Set<string>>();
  const lastByDay = new Map<string, number>();
  for (const item of real) {
    firstReal.set(item.user_id, Math.min(firstReal.get(item.user_id) ?? Infinity, at(item)));
    lastReal.set(item.user_id, Math.max(lastReal.get(item.user_id) ?? -Infinity, at(item)));
    if (item.interaction_type === 'payment') firstPayment.set(item.user_id, Math.min(firstPayment.get(item.user_id) ?? Infinity, at(item)));
    lastByType.set(item.interaction_type, Math.max(lastByType.get(item.interaction_type) ?? -Infinity, at(item)));
    if (!activeByDay.has(day(item))) activeByDay.set(day(item), new Set());
    activeByDay.get(day(item))!.add(item.user_id);
    lastByDay.set(day(item), Math.max(lastByDay.get(day(item)) ?? -Infinity, at(item)));
  }
  const newByDay = new Map<string, number>();
  for (const first of firstReal.values()) {
    const d = new Date(first).toISOString().slice(0, 10);
    newByDay.set(d, (newByDay.get(d) ?? 0) + 1);
  }
  const since = (ms: number) => [...lastReal.values()].filter((last) => last > NOW.getTime() - ms).length;
  const nth = (times: Iterable<number>, n: number) => [...times].sort((a, b) => a - b)[n - 1] ?? null;

  const weekAgo = NOW.getTime() - 7 * DAY_MS;
  const excluded = stored.filter((item) => item.exclusion_reason !== null || internal.has(item.user_id));
  const reasonOf = (item: InteractionToStore) => (internal.has(item.user_id) ? 'internal_user' : item.exclusion_reason!);
  const counts = { internal_user: 0, test_traffic: 0, automated_client: 0, not_engagement: 0 };
  for (const item of excluded) if (at(item) > weekAgo) counts[reasonOf(item)]++;
  const lastExcluded = excluded.reduce<InteractionToStore | null>((best, item) => (best === null || at(item) > at(best) ? item : best), null);

  // The first UTC day whose 30-day window (the day and the 29 before) held `target` distinct real users.
  const firstDayWithActive = (target: number) => {
    const days = [...activeByDay.keys()].sort();
    for (const d of days) {
      const start = new Date(Date.parse(`${d}T00:00:00Z`) - 29 * DAY_MS).toISOString().slice(0, 10);
      const window = new Set<string>();
      for (const [other, users] of activeByDay) if (other >= start && other <= d) for (const u of users) window.add(u);
      if (window.size >= target) return d;
    }
    return null;
  };
  const windowStart = new Date(Date.parse(`${NOW.toISOString().slice(0, 10)}T00:00:00Z`) - 29 * DAY_MS);
  const current = {
    total_real_users: firstReal.size,
    active_real_users_30d: [...lastReal.values()].filter((last) => last >= windowStart.getTime()).length,
    paying_users: firstPayment.size,
  };
  return {
    stored,
    headline: { lastRealInteractionAt: lastReal.size ? new Date(Math.max(...lastReal.values())) : null, totalRealUsers: firstReal.size },
    pulse: { dau: since(DAY_MS), wau: since(7 * DAY_MS), mau: since(30 * DAY_MS) },
    lastByType: new Map<string, { at: Date | null; counts: boolean }>([
      ...DEFAULT_COUNTING_TYPES.map((type) => [type, { at: lastByType.has(type) ? new Date(lastByType.get(type)!) : null, counts: true }] as const),
      ...(lastPageView === undefined ? [] : [['page_view', { at: lastPageView === null ? null : new Date(lastPageView), counts: false }] as const]),
    ]),
    exclusions: {
      last: lastExcluded && {
        eventId: lastExcluded.event_id,
        interactionType: lastExcluded.interaction_type,
        occurredAt: new Date(at(lastExcluded)),
        reason: reasonOf(lastExcluded),
      },
      countsSince: counts,
    },
    history: (from: string, to: string) =>
      [...activeByDay.keys(), ...newByDay.keys()]
        .filter((d, i, all) => all.indexOf(d) === i && d >= from && d <= to)
        .sort()
        .map((d) => ({
          day: d,
          activeUsers: activeByDay.get(d)?.size ?? 0,
          newUsers: newByDay.get(d) ?? 0,
          lastRealAt: lastByDay.has(d) ? new Date(lastByDay.get(d)!) : null,
        })),
    lastRealBefore: (from: string) => {
      const before = real.filter((item) => day(item) < from).map(at);
      return before.length ? new Date(Math.max(...before)) : null;
    },
    milestones: MILESTONES.map((milestone) => {
      if (milestone.measure === 'active_real_users_30d') {
        return { current: current.active_real_users_30d, reachedOn: firstDayWithActive(milestone.target), reachedAt: null };
      }
      const times = milestone.measure === 'paying_users' ? firstPayment.values() : firstReal.values();
      const reached = nth(times, milestone.target);
      return {
        current: current[milestone.measure],
        reachedOn: reached === null ? null : new Date(reached).toISOString().slice(0, 10),
        reachedAt: reached === null ? null : new Date(reached),
      };
    }),
  };
}

const deadlocks = async (db: Database) => {
  const [row] = await db.query<{ deadlocks: unknown }>(
    'SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()',
  );
  return Number(row!.deadlocks);
};

describe.each(engines)('many writers at once on %s', (_engine, open) => {
  let bed: Bed;
  beforeAll(async () => {
    bed = await open();
  });
  afterAll(async () => {
    await bed?.close();
  });

  it('records every event once, keeps every rollup equal to a recount, and never deadlocks', { timeout: 180_000 }, async () => {
    // CONCURRENT_BATCHES raises the load (batches per writer) to hunt rarer interleavings.
    const batches = plan(7, WRITERS, Number(process.env.CONCURRENT_BATCHES ?? 14), 250);
    const sent = batches.flat(2);
    const deadlocksBefore = await deadlocks(bed.db);

    // Each writer sends its batches one after another, as a client would, and sends a batch again if it failed.
    const failures: string[] = [];
    await Promise.all(
      batches.map(async (mine, index) => {
        const logs = capturingLog();
        const ingest = createIngestHandler(testDeps(bed.writer(index), { env, now: () => NOW, log: logs.log }));
        for (const batch of mine) {
          for (let attempt = 1; ; attempt++) {
            const result = await ingest(post('/metrics/interactions', { interactions: batch }));
            if (result.statusCode < 300) break;
            failures.push(`${result.statusCode} ${logs.lines.at(-1)}`);
            if (attempt === 5) throw new Error(`writer ${index} gave up: ${failures.at(-1)}`);
          }
        }
      }),
    );
    // Backends report their statistics when idle, at most once a second.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await bed.db.query('SELECT true AS cleared FROM pg_stat_clear_snapshot()'); // a void column would fail on the Data API
    const deadlocksAfter = await deadlocks(bed.db);
    const expected = oracle(sent);

    // No event counts twice, and none is lost.
    const events = await bed.inspect.query<{ event_id: string; n: number }>(
      'SELECT event_id, count(*)::int AS n FROM interactions GROUP BY event_id ORDER BY event_id',
    );
    expect(events.filter((row) => row.n !== 1)).toEqual([]);
    expect(events.map((row) => row.event_id)).toEqual(expected.stored.map((item) => item.event_id).sort());

    await expectRollupsToEqualRecount(bed.inspect);

    expect(await readHeadline(bed.db, config.internal)).toEqual(expected.headline);
    expect(await readPulse(bed.db, config.internal, NOW)).toEqual({ ...expected.headline, ...expected.pulse });
    expect(await readLastRealByType(bed.db, config.internal, config.countingTypes)).toEqual(expected.lastByType);
    expect(await readExclusions(bed.db, config.internal, new Date(NOW.getTime() - 7 * DAY_MS))).toEqual(expected.exclusions);
    const window = { from: '2026-01-15', to: '2026-03-01' };
    const history = await readDailyHistory(bed.db, config.internal, window);
    // A day when only internal users were active may be kept as zeros: the same as absent.
    history.totals = history.totals.filter((day) => day.activeUsers !== 0 || day.newUsers !== 0 || day.lastRealAt !== null);
    expect(history).toEqual({
      totals: expected.history(window.from, window.to),
      lastRealBefore: expected.lastRealBefore(window.from),
    });
    expect(await readMilestoneProgress(bed.db, config.internal, MILESTONES, NOW)).toEqual(expected.milestones);

    expect({ failures, deadlocks: deadlocksAfter - deadlocksBefore }).toEqual({ failures: [], deadlocks: 0 });
  });
});

import { describe, expect, it } from 'vitest';
import { toStore } from '../../functions/core/recording.js';
import { readDailyHistory } from '../../functions/db/history.js';
import { recordInteractions } from '../../functions/db/interactions.js';
import { json } from '../../functions/db/port.js';
import { createIngestHandler } from '../../functions/handlers/ingest.js';
import { createMetricsHandler } from '../../functions/handlers/metrics.js';
import { databaseEmptiedForEachTest, engineUnderTest, get, post, testClock, testDeps } from '../support/harness.js';

const DAY = 86_400_000;
const NOW = '2026-03-15T12:00:00.000Z';
const CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const user = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

const db = databaseEmptiedForEachTest();

type Kind = 'real' | 'bot' | 'test' | 'page_view' | 'team';

interface Generated {
  event_id: string;
  user_id: string;
  interaction_type: string;
  occurred_at: string;
  context?: Record<string, unknown>;
  kind: Kind;
}

/** A deterministic mix of traffic from 2025-11-20 to just before NOW: real users, scripts, tests, landing pages, the team. */
function traffic(count: number, seed = 11): Generated[] {
  let state = seed;
  // Math.imul keeps the generator exact: plain multiplication overflows 2^53 and falls into short cycles.
  const next = () => (state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0) / 2 ** 32;
  const start = Date.parse('2025-11-20T00:00:00Z');
  const span = Date.parse(NOW) - 60_000 - start;
  return Array.from({ length: count }, (_, i) => {
    const n = Math.floor(next() * 30);
    const roll = next();
    const kind: Kind = n >= 27 ? 'team' : roll < 0.08 ? 'bot' : roll < 0.14 ? 'test' : roll < 0.22 ? 'page_view' : 'real';
    return {
      event_id: `gen-${seed}-${i}`,
      user_id: user(n),
      interaction_type: kind === 'page_view' ? 'page_view' : (['signup', 'login', 'coach_call', 'payment'] as const)[Math.floor(next() * 4)]!,
      // Later users arrive later, so new users spread over the window.
      occurred_at: new Date(start + Math.max(next(), n / 30) * span).toISOString(),
      context: {
        user_agent: kind === 'bot' ? 'curl/8.5.0' : CHROME,
        ...(kind === 'test' ? { test: true } : {}),
        ...(kind === 'team' ? { email: `dev${n}@team.example` } : {}),
      },
      kind,
    };
  });
}

/** The history by its definition, counted straight from what was sent. */
function expectedHistory(sent: readonly Generated[], from: string, to: string, now: Date, alsoInternal: ReadonlySet<string> = new Set()) {
  const real = sent.filter((item) => item.kind === 'real' && !alsoInternal.has(item.user_id));
  const firstDay = new Map<string, string>();
  for (const item of [...real].sort((a, b) => a.occurred_at.localeCompare(b.occurred_at))) {
    if (!firstDay.has(item.user_id)) firstDay.set(item.user_id, item.occurred_at.slice(0, 10));
  }
  const rows = [];
  for (let start = Date.parse(`${from}T00:00:00Z`); start <= Date.parse(`${to}T00:00:00Z`); start += DAY) {
    const day = new Date(start).toISOString().slice(0, 10);
    const end = Math.min(start + DAY, now.getTime());
    const last = Math.max(...real.map((item) => Date.parse(item.occurred_at)).filter((at) => at < start + DAY));
    rows.push({
      day,
      active_users: new Set(real.filter((item) => item.occurred_at.startsWith(day)).map((item) => item.user_id)).size,
      new_users: [...firstDay.values()].filter((first) => first === day).length,
      days_since_at_end_of_day: Number.isFinite(last) ? Math.max(0, (end - last) / DAY) : null,
    });
  }
  return rows;
}

function service(env: Record<string, string> = {}) {
  const clock = testClock(NOW);
  const deps = testDeps(db, { now: clock.now, env: { INTERNAL_EMAIL_DOMAINS: 'team.example', ...env } });
  const ingest = createIngestHandler(deps);
  const metrics = createMetricsHandler(deps);
  return {
    clock,
    deps,
    /** Through the real batch route, 500 at a time, in generated order: not time order, as late reports arrive. */
    async send(items: readonly Generated[]) {
      for (let i = 0; i < items.length; i += 500) {
        const interactions = items.slice(i, i + 500).map(({ kind: _, ...item }) => item);
        const result = await ingest(post('/metrics/interactions', { interactions }));
        expect(result.statusCode).toBe(202);
      }
    },
    async history(query: Record<string, string> | null = null) {
      const result = await metrics(get('/metrics/history', query));
      return { status: result.statusCode, body: JSON.parse(result.body) };
    },
  };
}

interface Totals {
  days: Array<{ day: string; active: number; new: number }>;
  byType: Array<{ interaction_type: string; users: number }>;
}

/**
 * What daily_real_totals and real_user_type_counts must hold for these interactions, counted by definition.
 * They keep the team's users too: internal users are subtracted when read, so naming one later needs no rewrite.
 */
function totalsOf(sent: readonly Generated[]): Totals {
  const real = sent.filter((item) => item.kind === 'real' || item.kind === 'team');
  const activeOn = new Map<string, Set<string>>();
  const firstAt = new Map<string, string>();
  const usersOf = new Map<string, Set<string>>();
  for (const item of real) {
    const day = item.occurred_at.slice(0, 10);
    activeOn.set(day, (activeOn.get(day) ?? new Set()).add(item.user_id));
    if (!firstAt.has(item.user_id) || item.occurred_at < firstAt.get(item.user_id)!) firstAt.set(item.user_id, item.occurred_at);
    usersOf.set(item.interaction_type, (usersOf.get(item.interaction_type) ?? new Set()).add(item.user_id));
  }
  const newOn = new Map<string, number>();
  for (const at of firstAt.values()) newOn.set(at.slice(0, 10), (newOn.get(at.slice(0, 10)) ?? 0) + 1);
  return {
    days: [...new Set([...activeOn.keys(), ...newOn.keys()])].sort().map((day) => ({ day, active: activeOn.get(day)?.size ?? 0, new: newOn.get(day) ?? 0 })),
    byType: [...usersOf.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([interaction_type, users]) => ({ interaction_type, users: users.size })),
  };
}

/** daily_real_totals and real_user_type_counts hold `expected`, which is also what a recount of the rollups they summarise gives. */
async function expectTotals(expected: Totals) {
  const kept = await db.query(`SELECT to_char(day, 'YYYY-MM-DD') AS day, active_users::int AS active, new_users::int AS new
    FROM daily_real_totals WHERE active_users <> 0 OR new_users <> 0 ORDER BY day`);
  const recount = await db.query(`
    SELECT to_char(day, 'YYYY-MM-DD') AS day, sum(active)::int AS active, sum(new)::int AS new FROM (
      SELECT day, 1 AS active, 0 AS new FROM daily_real_activity
      UNION ALL
      SELECT (first_real_at AT TIME ZONE 'UTC')::date, 0, 1 FROM real_users
    ) x GROUP BY day ORDER BY day`);
  expect(kept).toEqual(expected.days);
  expect(recount).toEqual(expected.days);
  const byType = 'SELECT interaction_type, users::int AS users FROM real_user_type_counts WHERE users <> 0 ORDER BY 1';
  const byTypeRecount = 'SELECT interaction_type, count(*)::int AS users FROM real_user_activity GROUP BY 1 ORDER BY 1';
  expect(await db.query(byType)).toEqual(expected.byType);
  expect(await db.query(byTypeRecount)).toEqual(expected.byType);
}

describe('GET /metrics/history', () => {
  it('lists 90 quiet days, oldest first, with no days-since before the first real user', async () => {
    const { body, status } = await service().history();
    expect(status).toBe(200);
    expect(body.days).toBe(90);
    expect(body.from).toBe('2025-12-16');
    expect(body.to).toBe('2026-03-15');
    expect(body.history).toHaveLength(90);
    expect(body.history[0]).toEqual({ day: '2025-12-16', active_users: 0, new_users: 0, days_since_at_end_of_day: null });
    expect(body.history.every((row: { active_users: number; days_since_at_end_of_day: null }) => row.active_users === 0 && row.days_since_at_end_of_day === null)).toBe(true);
  });

  it('counts real users per UTC day exactly as the definition does, whatever arrived in between', async () => {
    const { send, history } = service();
    const sent = traffic(2500);
    await send(sent);
    const { body } = await history();
    const expected = expectedHistory(sent, '2025-12-16', '2026-03-15', new Date(NOW));
    expect(body.history).toHaveLength(90);
    body.history.forEach((row: (typeof expected)[number], i: number) => {
      expect({ ...row, days_since_at_end_of_day: null }).toEqual({ ...expected[i], days_since_at_end_of_day: null });
      if (expected[i]!.days_since_at_end_of_day === null) expect(row.days_since_at_end_of_day).toBeNull();
      else expect(row.days_since_at_end_of_day).toBeCloseTo(expected[i]!.days_since_at_end_of_day!, 9);
    });
    // The mix really did exercise every part: busy days, new users inside the window, and quiet days.
    expect(Math.max(...expected.map((row) => row.active_users))).toBeGreaterThan(3);
    expect(expected.some((row) => row.new_users > 0)).toBe(true);
    await expectTotals(totalsOf(sent));
  });

  it('drops a user named internal later from every day of the history', async () => {
    const sent = traffic(1500, 5);
    await service().send(sent);
    const someone = sent.filter((item) => item.kind === 'real').at(-1)!.user_id;
    const { body } = await service({ INTERNAL_USER_IDS: someone }).history({ days: '366' });
    expect(body.days).toBe(366);
    const expected = expectedHistory(sent, body.from, body.to, new Date(NOW), new Set([someone]));
    expect(body.history.map((row: { active_users: number }) => row.active_users)).toEqual(expected.map((row) => row.active_users));
    expect(body.history.map((row: { new_users: number }) => row.new_users)).toEqual(expected.map((row) => row.new_users));
    const lastDay = body.history.at(-1);
    expect(lastDay.days_since_at_end_of_day).toBeCloseTo(expected.at(-1)!.days_since_at_end_of_day!, 9);
  });

  it('moves a new user to an earlier day when an older interaction arrives late', async () => {
    const { send, history } = service();
    const late = (occurred_at: string, id: string): Generated => ({
      event_id: id,
      user_id: user(1),
      interaction_type: 'login',
      occurred_at,
      kind: 'real',
    });
    await send([late('2026-03-10T10:00:00Z', 'a')]);
    await send([late('2026-03-03T10:00:00Z', 'b')]);
    const { body } = await history({ days: '14' });
    const byDay = Object.fromEntries(body.history.map((row: { day: string }) => [row.day, row]));
    expect(byDay['2026-03-03']).toMatchObject({ active_users: 1, new_users: 1 });
    expect(byDay['2026-03-10']).toMatchObject({ active_users: 1, new_users: 0 });
    expect(byDay['2026-03-02'].days_since_at_end_of_day).toBeNull();
    expect(byDay['2026-03-09'].days_since_at_end_of_day).toBeCloseTo(6 + 14 / 24, 9);
    await expectTotals({
      days: [
        { day: '2026-03-03', active: 1, new: 1 },
        { day: '2026-03-10', active: 1, new: 0 },
      ],
      byType: [{ interaction_type: 'login', users: 1 }],
    });
  });

  it('counts together the first days one statement moves: to several days, from one, and within a day', async () => {
    const { send } = service();
    const login = (n: number, occurred_at: string, id: string): Generated => ({ event_id: id, user_id: user(n), interaction_type: 'login', occurred_at, kind: 'real' });
    await send([
      login(1, '2026-03-10T10:00:00Z', 'first-1'),
      login(2, '2026-03-10T10:00:00Z', 'first-2'),
      login(3, '2026-03-10T10:00:00Z', 'first-3'),
      login(4, '2026-03-12T10:00:00Z', 'first-4'),
    ]);
    // One batch, one statement: two users leave 03-10 for different days, one moves earlier within 03-10, one comes
    // from 03-12 to a day another also reaches, and a new user arrives on a day a moved one reaches.
    await send([
      login(1, '2026-03-03T10:00:00Z', 'late-1'),
      login(2, '2026-03-05T10:00:00Z', 'late-2'),
      login(3, '2026-03-10T08:00:00Z', 'late-3'),
      login(4, '2026-03-03T11:00:00Z', 'late-4'),
      login(5, '2026-03-05T12:00:00Z', 'new-5'),
    ]);
    await expectTotals({
      days: [
        { day: '2026-03-03', active: 2, new: 2 },
        { day: '2026-03-05', active: 2, new: 2 },
        { day: '2026-03-10', active: 3, new: 1 },
        { day: '2026-03-12', active: 1, new: 0 },
      ],
      byType: [{ interaction_type: 'login', users: 5 }],
    });
  });

  it('keeps its totals right when rollup rows are deleted', async () => {
    const sent = traffic(600, 3);
    await service().send(sent);
    const expected = totalsOf(sent);
    const activeGone = await db.query<{ day: string }>(
      `DELETE FROM daily_real_activity WHERE day IN (SELECT day FROM daily_real_activity ORDER BY day LIMIT 3) RETURNING to_char(day, 'YYYY-MM-DD') AS day`,
    );
    const usersGone = await db.query<{ day: string }>(
      `DELETE FROM real_users WHERE user_id IN (SELECT user_id FROM real_users ORDER BY first_real_at DESC LIMIT 2)
       RETURNING to_char(first_real_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day`,
    );
    const typesGone = await db.query<{ interaction_type: string }>(
      `DELETE FROM real_user_activity WHERE interaction_type = 'payment' AND user_id IN (SELECT user_id FROM real_users LIMIT 3) RETURNING interaction_type`,
    );
    expect([activeGone.length >= 3, usersGone.length, typesGone.length > 0]).toEqual([true, 2, true]);
    for (const { day } of activeGone) expected.days.find((row) => row.day === day)!.active -= 1;
    for (const { day } of usersGone) expected.days.find((row) => row.day === day)!.new -= 1;
    for (const { interaction_type } of typesGone) expected.byType.find((row) => row.interaction_type === interaction_type)!.users -= 1;
    await expectTotals({
      days: expected.days.filter((row) => row.active !== 0 || row.new !== 0),
      byType: expected.byType.filter((row) => row.users !== 0),
    });
  });

  it.each([['0'], ['367'], ['7.5'], ['a week']])('refuses ?days=%s with a 400 naming days', async (days) => {
    const { status, body } = await service().history({ days });
    expect(status).toBe(400);
    expect(body).toEqual({
      error: 'invalid_request',
      message: `days must be a whole number from 1 to 366, got "${days}"`,
      problems: [{ field: 'days', message: `must be a whole number from 1 to 366, got "${days}"` }],
    });
  });
});

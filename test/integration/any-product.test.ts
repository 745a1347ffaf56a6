import { describe, expect, it } from 'vitest';
import { createIngestHandler } from '../../functions/handlers/ingest.js';
import { createMetricsHandler } from '../../functions/handlers/metrics.js';
import { databaseEmptiedForEachTest, get, post, testClock, testDeps } from '../support/harness.js';
import { expectRollupsToEqualRecount } from '../support/recount.js';

// Issue 20's acceptance run: a product whose users are "42" and "user_8f3a", and whose engagement is report_viewed,
// gets the right headline, summary, history and milestones, on PGlite, PostgreSQL 16 and through the Data API stand-in.

const NOW = '2026-03-01T12:00:00Z';
const UUID = '9b2f1c3e-8a4d-4e5f-9a6b-7c8d9e0f1a2b';
const ENV = {
  INTERACTION_TYPES: 'signup,login,report_viewed',
  INTERNAL_USER_IDS: 'ops',
  MILESTONES: JSON.stringify([
    { name: 'Three real users', target_date: '2026-03-31', measure: 'total_real_users', target: 3 },
    { name: 'Three active in a month', target_date: '2026-03-31', measure: 'active_real_users_30d', target: 3 },
  ]),
};

const db = databaseEmptiedForEachTest();

const sent = [
  { event_id: 'a1', user_id: '42', interaction_type: 'signup', occurred_at: '2026-02-24T10:00:00Z' },
  { event_id: 'a2', user_id: '42', interaction_type: 'report_viewed', occurred_at: '2026-03-01T06:00:00Z' },
  // Not configured to count: kept, listed, and not counted.
  { event_id: 'a3', user_id: '42', interaction_type: 'coach_call', occurred_at: '2026-02-25T09:00:00Z' },
  { event_id: 'b1', user_id: 'user_8f3a', interaction_type: 'login', occurred_at: '2026-02-28T09:00:00Z' },
  { event_id: 'b2', user_id: 'user_8f3a', interaction_type: 'report_viewed', occurred_at: '2026-02-26T08:00:00Z' },
  { event_id: 'b3', user_id: 'user_8f3a', interaction_type: 'page_view', occurred_at: '2026-03-01T09:00:00Z' },
  // Ids are case-sensitive: another user.
  { event_id: 'c1', user_id: 'User_8F3A', interaction_type: 'report_viewed', occurred_at: '2026-02-20T12:00:00Z' },
  // A UUID in either case is one user, as before.
  { event_id: 'd1', user_id: UUID.toUpperCase(), interaction_type: 'login', occurred_at: '2026-02-27T12:00:00Z' },
  { event_id: 'd2', user_id: UUID, interaction_type: 'report_viewed', occurred_at: '2026-02-27T13:00:00Z' },
  // The team (INTERNAL_USER_IDS) and a script.
  { event_id: 'e1', user_id: 'ops', interaction_type: 'report_viewed', occurred_at: '2026-03-01T11:00:00Z' },
  { event_id: 'f1', user_id: '42', interaction_type: 'report_viewed', occurred_at: '2026-02-28T10:00:00Z', context: { user_agent: 'curl/8.5.0' } },
];

function service() {
  const deps = testDeps(db, { now: testClock(NOW).now, env: ENV });
  const ingest = createIngestHandler(deps);
  const metrics = createMetricsHandler(deps);
  return {
    ingest,
    read: async (path: string, query: Record<string, string> | null = null) => {
      const result = await metrics(get(path, query));
      expect(result.statusCode).toBe(200);
      return JSON.parse(result.body);
    },
  };
}

const days = (hours: number) => expect.closeTo(hours / 24, 9);

describe("a product's own user ids and counting type", () => {
  it('get the right headline, summary, history and milestones', async () => {
    const { ingest, read } = service();
    // One through the single route, the rest as a batch.
    expect(JSON.parse((await ingest(post('/metrics/interaction', sent[0]))).body)).toEqual({ event_id: 'a1', status: 'recorded', counted: true, reason: null });
    const batch = JSON.parse((await ingest(post('/metrics/interactions', { interactions: sent.slice(1) }))).body);
    expect(batch.results.map((result: { event_id: string; reason: string | null }) => [result.event_id, result.reason])).toEqual([
      ['a2', null],
      ['a3', 'not_engagement'],
      ['b1', null],
      ['b2', null],
      ['b3', 'not_engagement'],
      ['c1', null],
      ['d1', null],
      ['d2', null],
      ['e1', 'internal_user'],
      ['f1', 'automated_client'],
    ]);
    // Byte order (collation "C") on every engine: digits, then capitals, then small letters.
    expect((await db.query('SELECT DISTINCT user_id FROM interactions ORDER BY user_id')).map((row) => row.user_id)).toEqual([
      '42',
      UUID,
      'User_8F3A',
      'ops',
      'user_8f3a',
    ]);

    expect(await read('/metrics/days-since-last-interaction')).toEqual({
      metric: 'days_since_last_real_user_interaction',
      value: days(6),
      status: 'active',
      target: 0,
      last_interaction: '2026-03-01T06:00:00.000Z',
      total_users: 4,
    });

    const summary = await read('/metrics/summary');
    expect(summary.days_since_last_real_interaction).toEqual({ days_since: days(6), last_interaction: '2026-03-01T06:00:00.000Z', status: 'active' });
    expect(Object.keys(summary.by_type)).toEqual(['signup', 'login', 'report_viewed', 'coach_call', 'page_view']);
    expect(summary.by_type).toEqual({
      signup: { days_since: days(122), last_interaction: '2026-02-24T10:00:00.000Z', counts: true },
      login: { days_since: days(27), last_interaction: '2026-02-28T09:00:00.000Z', counts: true },
      report_viewed: { days_since: days(6), last_interaction: '2026-03-01T06:00:00.000Z', counts: true },
      coach_call: { days_since: days(99), last_interaction: '2026-02-25T09:00:00.000Z', counts: false },
      page_view: { days_since: days(3), last_interaction: '2026-03-01T09:00:00.000Z', counts: false },
    });
    expect(summary.active_users).toEqual({
      dau: { value: 1, target: 10, window: '24h' },
      wau: { value: 3, window: '7d' },
      mau: { value: 4, target: 50, window: '30d' },
    });
    expect(summary.total_users).toBe(4);
    expect(summary.excluded).toEqual({
      last: { event_id: 'e1', interaction_type: 'report_viewed', occurred_at: '2026-03-01T11:00:00.000Z', days_since: days(1), reason: 'internal_user' },
      last_7_days: { internal_user: 1, test_traffic: 0, automated_client: 1, not_engagement: 2 },
    });

    expect(await read('/metrics/history', { days: '7' })).toEqual({
      generated_at: '2026-03-01T12:00:00.000Z',
      days: 7,
      from: '2026-02-23',
      to: '2026-03-01',
      history: [
        // Before the window: User_8F3A's report on 20 February.
        { day: '2026-02-23', active_users: 0, new_users: 0, days_since_at_end_of_day: days(84) },
        { day: '2026-02-24', active_users: 1, new_users: 1, days_since_at_end_of_day: days(14) },
        { day: '2026-02-25', active_users: 0, new_users: 0, days_since_at_end_of_day: days(38) },
        { day: '2026-02-26', active_users: 1, new_users: 1, days_since_at_end_of_day: days(16) },
        { day: '2026-02-27', active_users: 1, new_users: 1, days_since_at_end_of_day: days(11) },
        { day: '2026-02-28', active_users: 1, new_users: 0, days_since_at_end_of_day: days(15) },
        { day: '2026-03-01', active_users: 1, new_users: 0, days_since_at_end_of_day: days(6) },
      ],
    });

    // The third real user arrived on 26 February (User_8F3A, 42, user_8f3a): three in one 30-day window that day too.
    expect((await read('/metrics/milestones')).milestones).toEqual([
      expect.objectContaining({ current: 4, reached_on: '2026-02-26', reached_at: '2026-02-26T08:00:00.000Z', status: 'achieved' }),
      expect.objectContaining({ current: 4, reached_on: '2026-02-26', reached_at: null, status: 'achieved' }),
    ]);
    await expectRollupsToEqualRecount(db);
  });
});

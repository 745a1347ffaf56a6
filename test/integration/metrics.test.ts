import { describe, expect, it } from 'vitest';
import { createIngestHandler } from '../../functions/handlers/ingest.js';
import { createMetricsHandler } from '../../functions/handlers/metrics.js';
import { databaseEmptiedForEachTest, get, post, testClock, testDeps } from '../support/harness.js';

const USERS = [
  '11111111-1111-4111-8111-111111111111',
  '22222222-2222-4222-8222-222222222222',
  '33333333-3333-4333-8333-333333333333',
  '44444444-4444-4444-8444-444444444444',
];
const FOUNDER = 'f0f0f0f0-0000-4000-8000-000000000000';

const db = databaseEmptiedForEachTest();

function service(now: string, env: Record<string, string> = {}) {
  const clock = testClock(now);
  const deps = testDeps(db, { now: clock.now, env });
  const ingest = createIngestHandler(deps);
  const metrics = createMetricsHandler(deps);
  return {
    clock,
    record: async (body: object) => {
      const result = await ingest(post('/metrics/interaction', body));
      expect(result.statusCode).toBe(202);
    },
    read: async (path: string) => {
      const result = await metrics(get(path));
      expect(result.statusCode).toBe(200);
      return JSON.parse(result.body);
    },
  };
}

describe('GET /metrics/days-since-last-interaction', () => {
  it('answers exactly the seed\'s shape before the first real user', async () => {
    const { read } = service('2026-02-01T07:00:00Z');
    expect(await read('/metrics/days-since-last-interaction')).toEqual({
      metric: 'days_since_last_real_user_interaction',
      value: null,
      status: 'no_users_yet',
      target: 0,
      last_interaction: null,
      total_users: 0,
    });
  });

  it.each([
    [0, 'active'],
    [0.99, 'active'],
    [1, 'warning'],
    [6.99, 'warning'],
    [7, 'critical'],
    [30, 'critical'],
  ])('after %s days without a real user the status is %s', async (days, status) => {
    const { record, read, clock } = service('2026-02-08T12:00:00Z');
    await record({ user_id: USERS[0], interaction_type: 'login' });
    clock.advanceDays(days);
    const body = await read('/metrics/days-since-last-interaction');
    expect(body.status).toBe(status);
    expect(body.value).toBeCloseTo(days, 9);
    expect(body.last_interaction).toBe('2026-02-08T12:00:00.000Z');
  });

  it('takes its bands from WARNING_DAYS and CRITICAL_DAYS', async () => {
    const { record, read, clock } = service('2026-02-08T12:00:00Z', { WARNING_DAYS: '0.5', CRITICAL_DAYS: '2' });
    await record({ user_id: USERS[0], interaction_type: 'login' });
    clock.advanceDays(0.6);
    expect((await read('/metrics/days-since-last-interaction')).status).toBe('warning');
    clock.advanceDays(1.5);
    expect((await read('/metrics/days-since-last-interaction')).status).toBe('critical');
  });

  it('counts distinct real users ever, not interactions', async () => {
    const { record, read } = service('2026-02-08T12:00:00Z');
    for (const user of USERS.slice(0, 3)) {
      await record({ user_id: user, interaction_type: 'signup', occurred_at: '2026-02-08T09:00:00Z' });
      await record({ user_id: user, interaction_type: 'login', occurred_at: '2026-02-08T10:00:00Z' });
    }
    await record({ user_id: USERS[3], interaction_type: 'page_view' });
    expect((await read('/metrics/days-since-last-interaction')).total_users).toBe(3);
  });

  it('stays at no_users_yet when everything so far was excluded', async () => {
    const { record, read } = service('2026-02-08T12:00:00Z');
    await record({ user_id: USERS[0], interaction_type: 'page_view' });
    await record({ user_id: USERS[1], interaction_type: 'login', context: { user_agent: 'curl/8.5.0' } });
    await record({ user_id: USERS[2], interaction_type: 'coach_call', context: { test: true } });
    expect((await read('/metrics/days-since-last-interaction')).status).toBe('no_users_yet');
  });
});

describe('GET /metrics/summary', () => {
  it('gives the Current State table: per type, DAU/WAU/MAU against targets, and what did not count', async () => {
    const { record, read } = service('2026-03-01T12:00:00Z', { INTERNAL_USER_IDS: FOUNDER });
    await record({ user_id: USERS[0], interaction_type: 'signup', occurred_at: '2026-01-20T12:00:00Z' });
    await record({ user_id: USERS[0], interaction_type: 'coach_call', occurred_at: '2026-03-01T06:00:00Z' });
    await record({ user_id: USERS[1], interaction_type: 'login', occurred_at: '2026-02-26T12:00:00Z' });
    await record({ user_id: USERS[2], interaction_type: 'agent_run', occurred_at: '2026-02-10T12:00:00Z' });
    await record({ user_id: USERS[3], interaction_type: 'export', occurred_at: '2026-01-01T12:00:00Z' });
    await record({ event_id: 'demo', user_id: FOUNDER, interaction_type: 'coach_call', occurred_at: '2026-03-01T11:00:00Z' });
    await record({ user_id: USERS[1], interaction_type: 'page_view', occurred_at: '2026-02-27T12:00:00Z' });
    await record({ user_id: USERS[2], interaction_type: 'login', occurred_at: '2026-02-28T12:00:00Z', context: { user_agent: 'curl/8.5.0' } });
    await record({ user_id: USERS[2], interaction_type: 'login', occurred_at: '2026-02-20T12:00:00Z', context: { test: true } });

    const summary = await read('/metrics/summary');
    expect(summary.generated_at).toBe('2026-03-01T12:00:00.000Z');
    expect(summary.days_since_last_real_interaction).toEqual({
      days_since: 0.25,
      last_interaction: '2026-03-01T06:00:00.000Z',
      status: 'active',
    });
    // Every counting type in the configured order, then the page view a real client sent, marked as not counting.
    expect(Object.keys(summary.by_type)).toEqual(['signup', 'login', 'coach_call', 'agent_run', 'decision', 'export', 'feedback', 'payment', 'page_view']);
    expect(summary.by_type).toEqual({
      signup: { days_since: 40, last_interaction: '2026-01-20T12:00:00.000Z', counts: true },
      login: { days_since: 3, last_interaction: '2026-02-26T12:00:00.000Z', counts: true },
      coach_call: { days_since: 0.25, last_interaction: '2026-03-01T06:00:00.000Z', counts: true },
      agent_run: { days_since: 19, last_interaction: '2026-02-10T12:00:00.000Z', counts: true },
      decision: { days_since: null, last_interaction: null, counts: true },
      export: { days_since: 59, last_interaction: '2026-01-01T12:00:00.000Z', counts: true },
      feedback: { days_since: null, last_interaction: null, counts: true },
      payment: { days_since: null, last_interaction: null, counts: true },
      page_view: { days_since: 2, last_interaction: '2026-02-27T12:00:00.000Z', counts: false },
    });
    expect(summary.active_users).toEqual({
      dau: { value: 1, target: 10, window: '24h' },
      wau: { value: 2, window: '7d' },
      mau: { value: 3, target: 50, window: '30d' },
    });
    expect(summary.total_users).toBe(4);
    expect(summary.excluded).toEqual({
      last: {
        event_id: 'demo',
        interaction_type: 'coach_call',
        occurred_at: '2026-03-01T11:00:00.000Z',
        days_since: expect.closeTo(1 / 24, 9),
        reason: 'internal_user',
      },
      last_7_days: { internal_user: 1, test_traffic: 0, automated_client: 1, not_engagement: 1 },
    });
  });

  it('shows internal activity as excluded, so it can never hide an empty week', async () => {
    const { record, read } = service('2026-03-01T12:00:00Z', { INTERNAL_EMAIL_DOMAINS: 'sustainnet.io' });
    await record({ user_id: FOUNDER, interaction_type: 'coach_call', context: { email: 'ceo@sustainnet.io' } });
    const summary = await read('/metrics/summary');
    expect(summary.days_since_last_real_interaction.status).toBe('no_users_yet');
    expect(summary.active_users.dau.value).toBe(0);
    expect(summary.excluded.last).toMatchObject({ reason: 'internal_user', days_since: 0 });
  });
});

describe('unknown routes', () => {
  it('answers 404 for a path it does not serve and 405 for a wrong method', async () => {
    const deps = testDeps(db);
    const metrics = createMetricsHandler(deps);
    expect((await metrics(get('/metrics/nope'))).statusCode).toBe(404);
    expect((await metrics({ ...get('/metrics/summary'), httpMethod: 'DELETE' })).statusCode).toBe(405);
  });
});

import { describe, expect, it } from 'vitest';
import { readFirstDaysReachingActive } from '../../functions/db/milestones.js';
import { createIngestHandler } from '../../functions/handlers/ingest.js';
import { createMetricsHandler } from '../../functions/handlers/metrics.js';
import { databaseEmptiedForEachTest, get, post, testClock, testDeps } from '../support/harness.js';
import { SN1MA_MILESTONES } from '../support/sn1ma.js';

const DAY = 86_400_000;
const user = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
const FOUNDER = user(999);

const db = databaseEmptiedForEachTest();

interface Sent {
  user_id: string;
  interaction_type: string;
  occurred_at: string;
  context?: Record<string, unknown>;
}

function service(now: string, env: Record<string, string> = {}) {
  const clock = testClock(now);
  const deps = testDeps(db, { now: clock.now, env: { INTERNAL_EMAIL_DOMAINS: 'team.example', MILESTONES: SN1MA_MILESTONES, ...env } });
  const ingest = createIngestHandler(deps);
  const metrics = createMetricsHandler(deps);
  let sent = 0;
  return {
    clock,
    deps,
    async send(items: readonly Sent[]) {
      for (let i = 0; i < items.length; i += 500) {
        const interactions = items.slice(i, i + 500).map((item) => ({ event_id: `m-${sent++}`, ...item }));
        expect((await ingest(post('/metrics/interactions', { interactions }))).statusCode).toBe(202);
      }
    },
    async milestones() {
      const result = await metrics(get('/metrics/milestones'));
      expect(result.statusCode).toBe(200);
      return JSON.parse(result.body).milestones as Record<string, unknown>[];
    },
  };
}

const login = (n: number, occurred_at: string, interaction_type = 'login'): Sent => ({ user_id: user(n), interaction_type, occurred_at });

describe('GET /metrics/milestones', () => {
  it("evaluates the seed's table before anyone arrives: on track until each date, then missed", async () => {
    const { milestones, clock } = service('2026-02-01T09:00:00Z');
    expect(await milestones()).toEqual([
      { name: 'First user signs up', target_date: '2026-02-08', measure: 'total_real_users', target: 1, current: 0, reached_on: null, reached_at: null, on_time: null, status: 'on_track' },
      { name: '5 active users', target_date: '2026-02-15', measure: 'active_real_users_30d', target: 5, current: 0, reached_on: null, reached_at: null, on_time: null, status: 'on_track' },
      { name: '10 paying users', target_date: '2026-03-01', measure: 'paying_users', target: 10, current: 0, reached_on: null, reached_at: null, on_time: null, status: 'on_track' },
      { name: '50 active users', target_date: '2026-03-31', measure: 'active_real_users_30d', target: 50, current: 0, reached_on: null, reached_at: null, on_time: null, status: 'on_track' },
    ]);
    clock.set('2026-02-09T00:00:00Z');
    expect((await milestones()).map((m) => m.status)).toEqual(['missed', 'on_track', 'on_track', 'on_track']);
  });

  it('says when each target was first reached, from history, not from when someone looked', async () => {
    const { send, milestones, clock } = service('2026-04-05T12:00:00Z');
    await send([
      // The founder demos first: never the first user.
      { ...login(999, '2026-02-03T08:00:00Z', 'signup'), context: { email: 'founder@team.example' } },
      login(1, '2026-02-05T10:00:00Z', 'signup'),
      login(2, '2026-02-09T10:00:00Z', 'signup'),
      login(3, '2026-02-11T10:00:00Z', 'signup'),
      login(4, '2026-02-12T10:00:00Z', 'signup'),
      // A script and a test never count.
      { ...login(50, '2026-02-13T10:00:00Z'), context: { user_agent: 'python-requests/2.32.3' } },
      { ...login(51, '2026-02-13T11:00:00Z'), context: { test: true } },
      login(5, '2026-02-14T23:30:00Z', 'signup'),
      // Ten payments, the tenth two days after the target date.
      ...Array.from({ length: 10 }, (_, i) => login(i + 1, new Date(Date.parse('2026-02-20T10:00:00Z') + i * 29 * 3_600_000).toISOString(), 'payment')),
      { ...login(999, '2026-02-21T08:00:00Z', 'payment'), context: { email: 'founder@team.example' } },
    ]);
    expect(await milestones()).toEqual([
      expect.objectContaining({ current: 10, reached_on: '2026-02-05', reached_at: '2026-02-05T10:00:00.000Z', on_time: true, status: 'achieved' }),
      // Nobody has been active in the last 30 days, but the five were, on Feb 14.
      expect.objectContaining({ current: 0, reached_on: '2026-02-14', reached_at: null, on_time: true, status: 'achieved' }),
      expect.objectContaining({ current: 10, reached_on: '2026-03-03', reached_at: '2026-03-03T07:00:00.000Z', on_time: false, status: 'achieved' }),
      expect.objectContaining({ current: 0, reached_on: null, reached_at: null, on_time: null, status: 'missed' }),
    ]);
    // Looking again later changes nothing about the past.
    clock.set('2026-06-01T00:00:00Z');
    expect((await milestones())[1]).toMatchObject({ reached_on: '2026-02-14', status: 'achieved' });
  });

  it('counts 30-day actives over UTC days: today and the 29 before', async () => {
    const { send, milestones } = service('2026-03-31T06:00:00Z', {
      MILESTONES: JSON.stringify([{ name: '3 active', target_date: '2026-03-31', measure: 'active_real_users_30d', target: 3 }]),
    });
    await send([login(1, '2026-03-01T23:59:00Z'), login(2, '2026-03-02T00:00:00Z'), login(3, '2026-03-31T05:00:00Z')]);
    expect(await milestones()).toEqual([expect.objectContaining({ current: 2, reached_on: null, status: 'on_track' })]);
    await send([login(1, '2026-03-02T00:00:01Z')]);
    expect(await milestones()).toEqual([expect.objectContaining({ current: 3, reached_on: '2026-03-31', status: 'achieved' })]);
  });

  it('forgets a user named internal later, moving when the milestone was reached', async () => {
    const only = JSON.stringify([{ name: 'First user signs up', target_date: '2026-02-08', measure: 'total_real_users', target: 1 }]);
    const first = service('2026-02-20T00:00:00Z', { MILESTONES: only });
    await first.send([login(1, '2026-02-04T09:00:00Z'), login(2, '2026-02-10T09:00:00Z')]);
    expect(await first.milestones()).toEqual([expect.objectContaining({ current: 2, reached_on: '2026-02-04', status: 'achieved' })]);
    const later = service('2026-02-20T00:00:00Z', { MILESTONES: only, INTERNAL_USER_IDS: user(1) });
    expect(await later.milestones()).toEqual([
      expect.objectContaining({ current: 1, reached_on: '2026-02-10', reached_at: '2026-02-10T09:00:00.000Z', on_time: false, status: 'achieved' }),
    ]);
  });

  it('finds the first day of a rolling 30-day count exactly as counting it the slow way does, across many pages', async () => {
    const { send, deps } = service('2026-06-30T00:00:00Z');
    let state = 3;
    // Math.imul keeps the generator exact: plain multiplication overflows 2^53 and falls into short cycles.
    const next = () => (state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0) / 2 ** 32;
    const start = Date.parse('2026-01-01T00:00:00Z');
    // Slow growth, then a crowd: several hundred (day, user) pairs, read back 37 at a time.
    const sent = Array.from({ length: 900 }, () => {
      const at = start + next() * 170 * DAY;
      const pool = Math.max(3, Math.floor((at - start) / DAY) * 0.6);
      return login(Math.floor(next() * pool), new Date(at).toISOString());
    });
    await send([...sent, { ...login(7, '2026-02-01T00:00:00Z'), context: { email: 'x@team.example' } }]);
    const real = sent.filter((item) => item.user_id !== user(7));
    const slow = (target: number) => {
      for (let day = start; day < start + 181 * DAY; day += DAY) {
        const users = new Set(real.filter((item) => Date.parse(item.occurred_at) >= day - 29 * DAY && Date.parse(item.occurred_at) < day + DAY).map((item) => item.user_id));
        if (users.size >= target) return new Date(day).toISOString().slice(0, 10);
      }
      return null;
    };
    const targets = [1, 10, 25, 40, 60, 500];
    const expected = targets.map(slow);
    expect(expected.filter((day) => day !== null).length).toBeGreaterThanOrEqual(4);
    expect(await readFirstDaysReachingActive(db, deps.config.internal, targets, '2025-12-01', 37)).toEqual(expected);
    expect(await readFirstDaysReachingActive(db, deps.config.internal, targets, '2025-12-01')).toEqual(expected);
  });
});

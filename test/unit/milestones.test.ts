import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../functions/core/config.js';
import {
  milestonesResponse,
  milestoneStatus,
  parseMilestones,
  RollingActiveUsers,
  type Milestone,
} from '../../functions/core/milestones.js';
import { SN1MA_MILESTONES_FILE } from '../support/sn1ma.js';

const PAYING: Milestone = { name: '10 paying users', target_date: '2026-03-01', measure: 'paying_users', target: 10 };
const SN1MA_EXAMPLE = SN1MA_MILESTONES_FILE;
const readFile = (path: string) => readFileSync(path, 'utf8');

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env, readFile);
  } catch (error) {
    return error as ConfigError;
  }
  throw new Error('loadConfig accepted the configuration');
}

describe('milestone configuration', () => {
  it('has none on a fresh install, so nothing dated for another product shows as missed', () => {
    expect(loadConfig({}).milestones).toEqual([]);
    expect(loadConfig({ MILESTONES: '  ' }).milestones).toEqual([]);
  });

  it("reads MILESTONES_FILE: the SN1MA example is the seed's Milestone Targets table, without the baseline row", () => {
    expect(loadConfig({ MILESTONES_FILE: SN1MA_EXAMPLE }, readFile).milestones).toEqual([
      { name: 'First user signs up', target_date: '2026-02-08', measure: 'total_real_users', target: 1 },
      { name: '5 active users', target_date: '2026-02-15', measure: 'active_real_users_30d', target: 5 },
      { name: '10 paying users', target_date: '2026-03-01', measure: 'paying_users', target: 10 },
      { name: '50 active users', target_date: '2026-03-31', measure: 'active_real_users_30d', target: 50 },
    ]);
  });

  it.each([
    [{ MILESTONES_FILE: '/nowhere/milestones.json' }, 'MILESTONES_FILE could not be read: /nowhere/milestones.json (ENOENT)'],
    [{ MILESTONES_FILE: SN1MA_EXAMPLE, MILESTONES: '[]' }, 'MILESTONES_FILE and MILESTONES are both set: use one'],
    [
      { MILESTONES_FILE: SN1MA_EXAMPLE, INTERACTION_TYPES: 'signup,login' },
      'MILESTONES_FILE [2] ("10 paying users").measure is paying_users, which counts real users with a payment interaction, and payment is not in INTERACTION_TYPES',
    ],
  ])('refuses a file it cannot use, naming the variable and the entry: %o', (env, message) => {
    expect(configError(env).message).toBe(message);
  });

  it('names the file and the entry, by position and name, when the file breaks a rule', () => {
    expect(() => loadConfig({ MILESTONES_FILE: 'm.json' }, () => JSON.stringify([PAYING, { ...PAYING, name: '5 real users', target: 0 }]))).toThrow(
      'MILESTONES_FILE m.json: [1] ("5 real users").target must be at least 1',
    );
    expect(() => loadConfig({ MILESTONES_FILE: 'm.json' })).toThrow(/^MILESTONES_FILE cannot be read here/);
  });

  it('reads MILESTONES as JSON, trimming names', () => {
    const milestones = [{ ...PAYING, name: '  100 paying users ', target: 100 }];
    expect(loadConfig({ MILESTONES: JSON.stringify(milestones) }).milestones).toEqual([{ ...PAYING, name: '100 paying users', target: 100 }]);
    expect(loadConfig({ MILESTONES: '[]' }).milestones).toEqual([]);
  });

  it.each([
    ['not JSON', '{name:', /^MILESTONES must be a JSON array like \[\{"name":/],
    ['an object, not a list', JSON.stringify(PAYING), /^MILESTONES must be a JSON array of milestones$/],
    ['a missing field', JSON.stringify([{ name: 'x', target_date: '2026-03-01', measure: 'paying_users' }]), /^MILESTONES \[0\] \("x"\)\.target is required$/],
    ['a fractional target', JSON.stringify([{ ...PAYING, target: 2.5 }]), /^MILESTONES \[0\] \("10 paying users"\)\.target must be a whole number$/],
    ['a zero target', JSON.stringify([PAYING, { ...PAYING, name: 'y', target: 0 }]), /^MILESTONES \[1\] \("y"\)\.target must be at least 1$/],
    ['a day that does not exist', JSON.stringify([{ ...PAYING, target_date: '2026-02-29' }]), /^MILESTONES \[0\] \("10 paying users"\)\.target_date must be a date like 2026-03-01$/],
    ['an unknown measure', JSON.stringify([{ ...PAYING, measure: 'signups' }]), /^MILESTONES \[0\] \("10 paying users"\)\.measure must be one of total_real_users, active_real_users_30d, paying_users$/],
    ['an empty name', JSON.stringify([{ ...PAYING, name: '  ' }]), /^MILESTONES \[0\]\.name must not be empty$/],
    ['an unknown field', JSON.stringify([{ ...PAYING, days_metric: 0.5 }]), /^MILESTONES \[0\] \("10 paying users"\) unknown field\(s\): days_metric$/],
    ['a repeated name', JSON.stringify([PAYING, PAYING]), /^MILESTONES must not repeat a milestone name$/],
  ])('refuses %s, naming the variable and the field', (_, raw, message) => {
    const error = configError({ MILESTONES: raw });
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.variable).toBe('MILESTONES');
    expect(error.message).toMatch(message);
  });

  it('refuses more than 50 milestones', () => {
    const many = Array.from({ length: 51 }, (_, i) => ({ ...PAYING, name: `m${i}` }));
    expect(parseMilestones(JSON.stringify(many))).toEqual({ ok: false, problem: 'must hold at most 50 milestones' });
  });
});

describe('milestone status', () => {
  const at = (iso: string) => new Date(iso);

  it('is on track until the target date has ended (UTC), missed after', () => {
    expect(milestoneStatus(PAYING, null, at('2026-02-20T00:00:00Z'))).toBe('on_track');
    expect(milestoneStatus(PAYING, null, at('2026-03-01T23:59:59.999Z'))).toBe('on_track');
    expect(milestoneStatus(PAYING, null, at('2026-03-02T00:00:00Z'))).toBe('missed');
  });

  it('is achieved once reached, on time or late', () => {
    expect(milestoneStatus(PAYING, '2026-02-27', at('2026-02-28T00:00:00Z'))).toBe('achieved');
    expect(milestoneStatus(PAYING, '2026-03-05', at('2026-04-01T00:00:00Z'))).toBe('achieved');
  });

  it('answers each milestone with its progress, saying whether it was reached on time', () => {
    const milestones: Milestone[] = [
      { name: 'First user signs up', target_date: '2026-02-08', measure: 'total_real_users', target: 1 },
      PAYING,
      { name: '50 active users', target_date: '2026-03-31', measure: 'active_real_users_30d', target: 50 },
      { name: '5 active users', target_date: '2026-02-15', measure: 'active_real_users_30d', target: 5 },
    ];
    const response = milestonesResponse(
      milestones,
      [
        { current: 12, reachedOn: '2026-02-09', reachedAt: at('2026-02-09T08:00:00Z') },
        { current: 3, reachedOn: null, reachedAt: null },
        { current: 51, reachedOn: '2026-03-20', reachedAt: null },
        { current: 2, reachedOn: null, reachedAt: null },
      ],
      at('2026-03-25T10:00:00Z'),
    );
    expect(response).toEqual({
      generated_at: '2026-03-25T10:00:00.000Z',
      milestones: [
        { ...milestones[0], current: 12, reached_on: '2026-02-09', reached_at: '2026-02-09T08:00:00.000Z', on_time: false, status: 'achieved' },
        { ...PAYING, current: 3, reached_on: null, reached_at: null, on_time: null, status: 'missed' },
        { ...milestones[2], current: 51, reached_on: '2026-03-20', reached_at: null, on_time: true, status: 'achieved' },
        { ...milestones[3], current: 2, reached_on: null, reached_at: null, on_time: null, status: 'missed' },
      ],
    });
  });
});

/** The definition, counted the slow way: distinct users active on any of the 30 days ending on `day`. */
function bruteForceFirstDay(pairs: readonly [string, string][], target: number): string | null {
  const days = [...new Set(pairs.map(([day]) => day))].sort();
  for (const day of days) {
    const start = new Date(Date.parse(`${day}T00:00:00Z`) - 29 * 86_400_000).toISOString().slice(0, 10);
    const users = new Set(pairs.filter(([d]) => d >= start && d <= day).map(([, user]) => user));
    if (users.size >= target) return day;
  }
  return null;
}

function firstDay(pairs: readonly [string, string][], target: number, chunk = pairs.length): string | null {
  const counter = new RollingActiveUsers(target);
  for (let i = 0; i < pairs.length; i += chunk) {
    for (const [day, user] of pairs.slice(i, i + chunk)) counter.add(day, user);
  }
  return counter.reachedOn;
}

describe('the first day a rolling 30-day count of active users reached a target', () => {
  it('counts a user once however many days they were active, and forgets them 30 days later', () => {
    const pairs: [string, string][] = [
      ['2026-02-01', 'a'],
      ['2026-02-02', 'a'],
      ['2026-02-03', 'b'],
      ['2026-03-06', 'c'], // a and b were last seen more than 29 days before: only c and d count
      ['2026-03-06', 'd'],
      ['2026-03-07', 'a'],
    ];
    expect(firstDay(pairs, 2)).toBe('2026-02-03');
    expect(firstDay(pairs, 3)).toBe('2026-03-07');
    expect(firstDay(pairs, 4)).toBeNull();
  });

  it('keeps the day 29 days back inside the window, and the day 30 back out', () => {
    expect(firstDay([['2026-01-01', 'a'], ['2026-01-30', 'b']], 2)).toBe('2026-01-30');
    expect(firstDay([['2026-01-01', 'a'], ['2026-01-31', 'b']], 2)).toBeNull();
  });

  it('agrees with counting the slow way, however the pairs are paged', () => {
    let state = 7;
    // Math.imul keeps the generator exact: plain multiplication overflows 2^53 and falls into short cycles.
    const next = () => (state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0) / 2 ** 32;
    for (let round = 0; round < 20; round++) {
      const pairs = new Map<string, [string, string]>();
      for (let i = 0; i < 300; i++) {
        const day = new Date(Date.UTC(2026, 0, 1) + Math.floor(next() * 200) * 86_400_000).toISOString().slice(0, 10);
        const user = `u${Math.floor(next() * 40)}`;
        pairs.set(`${day} ${user}`, [day, user]);
      }
      const sorted = [...pairs.values()].sort(([a, x], [b, y]) => a.localeCompare(b) || x.localeCompare(y));
      for (const target of [1, 5, 12, 25, 41]) {
        const expected = bruteForceFirstDay(sorted, target);
        expect(firstDay(sorted, target)).toBe(expected);
        expect(firstDay(sorted, target, 7)).toBe(expected);
      }
    }
  });

  it('refuses days out of order rather than miscount', () => {
    const counter = new RollingActiveUsers(2);
    counter.add('2026-02-02', 'a');
    expect(() => counter.add('2026-02-01', 'b')).toThrow(/days must come in order/);
  });
});

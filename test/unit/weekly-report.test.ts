import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../functions/core/config.js';
import type { Reading } from '../../functions/core/published-figures.js';
import { checkInMessage, dueCheckIn, latestCheckInSlot, snapshotOf, type CheckInFigures } from '../../functions/core/weekly-report.js';

// SN1MA's team: Johannesburg, which keeps UTC+2 all year, so Friday 09:00 there is Friday 07:00 UTC.
const config = loadConfig({ PRODUCT_NAME: 'SN1MA', TEAM_TIME_ZONE: 'Africa/Johannesburg' });
const sn1ma = config.team;

describe('the Friday 09:00 slot in Johannesburg', () => {
  it.each([
    // Friday 09:00 GMT+2 is 07:00 UTC.
    ['2026-02-13T07:00:00Z', '2026-02-13T07:00:00Z'],
    ['2026-02-13T06:59:59Z', '2026-02-06T07:00:00Z'],
    ['2026-02-13T21:59:00Z', '2026-02-13T07:00:00Z'],
    // Saturday 00:30 GMT+2 is still Friday in UTC, and already past Friday in Johannesburg.
    ['2026-02-13T22:30:00Z', '2026-02-13T07:00:00Z'],
    ['2026-02-19T23:00:00Z', '2026-02-13T07:00:00Z'],
    ['2026-02-20T07:00:00Z', '2026-02-20T07:00:00Z'],
  ])('at %s the latest slot is %s', (now, slot) => {
    expect(latestCheckInSlot(new Date(now), sn1ma).toISOString()).toBe(new Date(slot).toISOString());
  });

  it('is due once, from 09:00 until the end of that Friday in Johannesburg', () => {
    const slot = new Date('2026-02-13T07:00:00Z');
    expect(dueCheckIn(new Date('2026-02-13T07:00:00Z'), null, sn1ma)).toEqual(slot);
    expect(dueCheckIn(new Date('2026-02-13T07:04:00Z'), new Date('2026-02-06T07:00:00Z'), sn1ma)).toEqual(slot);
    expect(dueCheckIn(new Date('2026-02-13T07:05:00Z'), slot, sn1ma)).toBeNull();
    // Late but the same day (the laptop was closed at nine): still posted.
    expect(dueCheckIn(new Date('2026-02-13T21:59:00Z'), null, sn1ma)).toEqual(slot);
    // Saturday in Johannesburg: that Friday is over.
    expect(dueCheckIn(new Date('2026-02-13T22:00:00Z'), null, sn1ma)).toBeNull();
    expect(dueCheckIn(new Date('2026-02-12T07:00:00Z'), null, sn1ma)).toBeNull();
  });
});

describe("the check-in slot in another team's zone, day and hour", () => {
  const team = (env: Record<string, string>) => loadConfig(env).team;
  const latest = (now: string, env: Record<string, string>) => latestCheckInSlot(new Date(now), team(env)).toISOString();

  it('is Friday 09:00 UTC by default', () => {
    expect(latest('2026-02-13T09:00:00Z', {})).toBe('2026-02-13T09:00:00.000Z');
    expect(latest('2026-02-13T08:59:59Z', {})).toBe('2026-02-06T09:00:00.000Z');
  });

  it('follows daylight saving: Monday 08:00 in Berlin is 07:00 UTC in winter and 06:00 UTC in summer', () => {
    const berlin = { TEAM_TIME_ZONE: 'Europe/Berlin', CHECK_IN_DAY: 'monday', CHECK_IN_HOUR: '8' };
    expect(latest('2026-03-23T12:00:00Z', berlin)).toBe('2026-03-23T07:00:00.000Z');
    // Summer time starts on Sunday 29 March 2026.
    expect(latest('2026-03-30T06:00:00Z', berlin)).toBe('2026-03-30T06:00:00.000Z');
    expect(latest('2026-03-30T05:59:00Z', berlin)).toBe('2026-03-23T07:00:00.000Z');
    expect(dueCheckIn(new Date('2026-03-30T21:59:00Z'), null, team(berlin))).toEqual(new Date('2026-03-30T06:00:00Z'));
  });

  it('is skipped in the week daylight saving skips its hour, as EventBridge Scheduler skips it', () => {
    // Sunday 02:00 does not exist in Berlin on 29 March 2026: the latest slot stays the week before's.
    const skipped = { TEAM_TIME_ZONE: 'Europe/Berlin', CHECK_IN_DAY: 'sun', CHECK_IN_HOUR: '2' };
    expect(latest('2026-03-29T12:00:00Z', skipped)).toBe('2026-03-22T01:00:00.000Z');
    expect(latest('2026-04-05T00:00:00Z', skipped)).toBe('2026-04-05T00:00:00.000Z');
  });

  it('works a half-hour west of UTC, on the team\'s own calendar day', () => {
    // Thursday 23:00 in St John's is Friday 02:30 UTC: a check-in on Thursdays at 23:00.
    const stJohns = { TEAM_TIME_ZONE: 'America/St_Johns', CHECK_IN_DAY: 'thu', CHECK_IN_HOUR: '23' };
    expect(latest('2026-02-13T02:30:00Z', stJohns)).toBe('2026-02-13T02:30:00.000Z');
    expect(latest('2026-02-13T02:29:00Z', stJohns)).toBe('2026-02-06T02:30:00.000Z');
  });
});

function reading(overrides: Partial<Reading> = {}): Reading {
  return {
    at: new Date('2026-02-13T07:00:00Z'),
    days: 2.31,
    baseline: new Date('2026-02-01T00:00:00Z'),
    lastRealInteractionAt: new Date('2026-02-10T23:33:36Z'),
    totalRealUsers: 22,
    dau: 3,
    wau: 9,
    mau: 12,
    ...overrides,
  };
}

const figures = (overrides: Partial<CheckInFigures> = {}): CheckInFigures => ({
  slot: new Date('2026-02-13T07:00:00Z'),
  reading: reading(),
  newRealUsers: { thisWeek: 2, lastWeek: 4 },
  lastExcluded: { interactionType: 'login', occurredAt: new Date('2026-02-12T08:00:00Z'), reason: 'internal_user' },
  previous: {
    slot: new Date('2026-02-06T07:00:00Z'),
    days: 0.4,
    status: 'active',
    dau: 5,
    wau: 9,
    mau: 10,
    totalRealUsers: 20,
    newRealUsers: 4,
  },
  announcements: [{ state: 'warning', at: new Date('2026-02-11T23:33:36Z') }],
  ...overrides,
});

describe('the check-in message', () => {
  it('gives the number and status, DAU/MAU against targets, new users, the last exclusion and what changed', () => {
    const message = checkInMessage(figures(), config, 'https://example.com/dash');
    expect(message.text).toBe(
      [
        '📅 Friday check-in: days since last real user interaction = 2.31 (🟡 WARNING) · SN1MA',
        '→ DAU 3 (target 10) · MAU 12 (target 50)',
        '→ New real users this week: 2 (last week: 4)',
        '→ Last excluded interaction: login from an internal user, Thu 12 Feb 2026 10:00 GMT+2',
        '→ Since last Friday: days 0.40 → 2.31 · status 🟢 HEALTHY → 🟡 WARNING · DAU 5 → 3 · MAU 10 → 12 · total real users 20 → 22',
        '→ Alerts since last Friday: 🟡 WARNING Thu 12 Feb 2026 01:33 GMT+2',
        'Now: 2.31 days since the last real user interaction',
        'Last real interaction: Wed 11 Feb 2026 01:33 GMT+2',
        'Total real users: 22',
        'Times in Africa/Johannesburg',
        'Dashboard: https://example.com/dash',
      ].join('\n'),
    );
    expect(message.blocks[0]).toEqual({
      type: 'header',
      text: { type: 'plain_text', text: '📅 Friday check-in: days since last real user interaction = 2.31 (🟡 WARNING) · SN1MA', emoji: true },
    });
  });

  it('the first check-in, before any user and without exclusions or alerts, says so', () => {
    const text = checkInMessage(
      figures({
        reading: reading({ days: 12.29, lastRealInteractionAt: null, totalRealUsers: 0, dau: 0, wau: 0, mau: 0 }),
        newRealUsers: { thisWeek: 0, lastWeek: 0 },
        lastExcluded: null,
        previous: null,
        announcements: [],
      }),
      config,
      null,
    ).text;
    expect(text.split('\n').slice(0, 6)).toEqual([
      '📅 Friday check-in: days since last real user interaction = 12.29 since the baseline, no real user yet (🚨 ALERT) · SN1MA',
      '→ DAU 0 (target 10) · MAU 0 (target 50)',
      '→ New real users this week: 0 (last week: 0)',
      '→ Last excluded interaction: none',
      '→ Since last Friday: this is the first check-in, nothing to compare yet',
      '→ Alerts since last Friday: none',
    ]);
  });

  it('marks what did not change', () => {
    const same = figures({ previous: { ...figures().previous!, days: 2.31, status: 'warning', dau: 3, mau: 12, totalRealUsers: 22 } });
    expect(checkInMessage(same, config, null).text).toContain(
      '→ Since last Friday: days 2.31 (unchanged) · status 🟡 WARNING (unchanged) · DAU 3 (unchanged) · MAU 12 (unchanged) · total real users 22 (unchanged)',
    );
  });

  it("names the team's day, product and time zone", () => {
    const acme = loadConfig({ PRODUCT_NAME: 'Acme', TEAM_TIME_ZONE: 'America/New_York', CHECK_IN_DAY: 'mon', CHECK_IN_HOUR: '10' });
    const lines = checkInMessage(figures(), acme, null).text.split('\n');
    expect(lines[0]).toBe('📅 Monday check-in: days since last real user interaction = 2.31 (🟡 WARNING) · Acme');
    expect(lines.filter((line) => /^(→ Since|→ Alerts|Times)/.test(line))).toEqual([
      '→ Since last Monday: days 0.40 → 2.31 · status 🟢 HEALTHY → 🟡 WARNING · DAU 5 → 3 · MAU 10 → 12 · total real users 20 → 22',
      '→ Alerts since last Monday: 🟡 WARNING Wed 11 Feb 2026 18:33 GMT-5',
      'Times in America/New_York',
    ]);
  });

  it('keeps a snapshot for next Friday', () => {
    expect(snapshotOf(figures(), config)).toEqual({
      slot: new Date('2026-02-13T07:00:00Z'),
      days: 2.31,
      status: 'warning',
      dau: 3,
      wau: 9,
      mau: 12,
      totalRealUsers: 22,
      newRealUsers: 2,
    });
  });
});

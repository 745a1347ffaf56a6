import { describe, expect, it } from 'vitest';
import { historyDays, historyResponse, historyWindow } from '../../functions/core/history.js';

describe('?days for the history', () => {
  it('is 90 when absent, and any whole number from 1 to 366', () => {
    expect(historyDays(undefined)).toEqual({ ok: true, value: 90 });
    expect(historyDays('1')).toEqual({ ok: true, value: 1 });
    expect(historyDays(' 366 ')).toEqual({ ok: true, value: 366 });
  });

  it.each(['0', '367', '-5', '7.5', '1e2', 'ninety', '', '00000000001'])('refuses %j, naming days', (raw) => {
    expect(historyDays(raw)).toEqual({
      ok: false,
      problems: [{ field: 'days', message: `must be a whole number from 1 to 366, got "${raw}"` }],
    });
  });
});

describe('history rows', () => {
  const now = new Date('2026-02-10T06:00:00Z');

  it('covers N UTC days ending today', () => {
    expect(historyWindow(1, now)).toEqual({ from: '2026-02-10', to: '2026-02-10' });
    expect(historyWindow(90, now)).toEqual({ from: '2025-11-13', to: '2026-02-10' });
  });

  it('lists every day oldest first, quiet days as zeros, and days-since as it stood when each day ended', () => {
    const window = historyWindow(6, now);
    const response = historyResponse(
      window,
      [
        { day: '2026-02-06', activeUsers: 2, newUsers: 2, lastRealAt: new Date('2026-02-06T18:00:00Z') },
        // only internal users were active: the day counts nobody and the number keeps growing
        { day: '2026-02-08', activeUsers: 0, newUsers: 0, lastRealAt: null },
        { day: '2026-02-10', activeUsers: 1, newUsers: 0, lastRealAt: new Date('2026-02-10T03:00:00Z') },
      ],
      null,
      now,
    );
    expect(response).toEqual({
      generated_at: '2026-02-10T06:00:00.000Z',
      days: 6,
      from: '2026-02-05',
      to: '2026-02-10',
      history: [
        { day: '2026-02-05', active_users: 0, new_users: 0, days_since_at_end_of_day: null },
        { day: '2026-02-06', active_users: 2, new_users: 2, days_since_at_end_of_day: 0.25 },
        { day: '2026-02-07', active_users: 0, new_users: 0, days_since_at_end_of_day: 1.25 },
        { day: '2026-02-08', active_users: 0, new_users: 0, days_since_at_end_of_day: 2.25 },
        { day: '2026-02-09', active_users: 0, new_users: 0, days_since_at_end_of_day: 3.25 },
        // today is not over: as of now
        { day: '2026-02-10', active_users: 1, new_users: 0, days_since_at_end_of_day: 0.125 },
      ],
    });
  });

  it('starts from the last real interaction before the window', () => {
    const window = historyWindow(2, now);
    const response = historyResponse(window, [], new Date('2026-02-01T00:00:00Z'), now);
    expect(response.history.map((row) => row.days_since_at_end_of_day)).toEqual([9, 9.25]);
  });
});

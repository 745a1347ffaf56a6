import type { FieldProblem } from './interaction.js';
import { DAY_MS, daysBetween } from './metric.js';
import { utcDay } from './milestones.js';

export const DEFAULT_HISTORY_DAYS = 90;
export const MAX_HISTORY_DAYS = 366;

/** ?days=N: a whole number of days from 1 to 366, 90 when absent. */
export function historyDays(raw: string | undefined): { ok: true; value: number } | { ok: false; problems: FieldProblem[] } {
  if (raw === undefined) return { ok: true, value: DEFAULT_HISTORY_DAYS };
  const value = /^\d{1,4}$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  if (value >= 1 && value <= MAX_HISTORY_DAYS) return { ok: true, value };
  return { ok: false, problems: [{ field: 'days', message: `must be a whole number from 1 to ${MAX_HISTORY_DAYS}, got "${raw}"` }] };
}

/** The UTC days a history covers: `days` of them, ending today. */
export interface HistoryWindow {
  from: string;
  to: string;
}

export function historyWindow(days: number, now: Date): HistoryWindow {
  return { from: utcDay(new Date(now.getTime() - (days - 1) * DAY_MS)), to: utcDay(now) };
}

/** One UTC day as the rollups know it; days with no real activity are simply absent. */
export interface DayTotals {
  day: string;
  activeUsers: number;
  newUsers: number;
  /** The day's last real interaction (null if only internal users were active). */
  lastRealAt: Date | null;
}

export interface HistoryRow {
  day: string;
  active_users: number;
  new_users: number;
  /** The headline number as it stood when the day ended (for today: now); null before the first real user. */
  days_since_at_end_of_day: number | null;
}

export interface HistoryResponse {
  generated_at: string;
  days: number;
  from: string;
  to: string;
  history: HistoryRow[];
}

/** Every day of the window, oldest first, the quiet ones included: a gap in the chart would hide an empty day. */
export function historyResponse(
  window: HistoryWindow,
  totals: readonly DayTotals[],
  lastRealBefore: Date | null,
  now: Date,
): HistoryResponse {
  const byDay = new Map(totals.map((total) => [total.day, total]));
  const history: HistoryRow[] = [];
  let lastRealAt = lastRealBefore;
  const end = Date.parse(`${window.to}T00:00:00Z`);
  for (let start = Date.parse(`${window.from}T00:00:00Z`); start <= end; start += DAY_MS) {
    const day = utcDay(new Date(start));
    const total = byDay.get(day);
    if (total?.lastRealAt && (lastRealAt === null || total.lastRealAt > lastRealAt)) lastRealAt = total.lastRealAt;
    const endOfDay = new Date(Math.min(start + DAY_MS, now.getTime()));
    history.push({
      day,
      active_users: total?.activeUsers ?? 0,
      new_users: total?.newUsers ?? 0,
      days_since_at_end_of_day: lastRealAt === null ? null : daysBetween(lastRealAt, endOfDay),
    });
  }
  return { generated_at: now.toISOString(), days: history.length, from: window.from, to: window.to, history };
}

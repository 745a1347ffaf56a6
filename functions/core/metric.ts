export const METRIC_NAME = 'days_since_last_real_user_interaction';
export const DAY_MS = 86_400_000;

/** The moment `days` days before `now`: the start of a rolling window. */
export const daysBefore = (now: Date, days: number): Date => new Date(now.getTime() - days * DAY_MS);

export type MetricStatus = 'active' | 'warning' | 'critical' | 'no_users_yet';

/** Where active ends and warning, then critical, begin (WARNING_DAYS, CRITICAL_DAYS). */
export interface StatusBands {
  warningDays: number;
  criticalDays: number;
}

/** The seed's bands: active < 1 day, warning < 7, critical >= 7 (thresholds configurable). */
export function statusFor(days: number | null, settings: StatusBands): MetricStatus {
  if (days === null) return 'no_users_yet';
  if (days < settings.warningDays) return 'active';
  if (days < settings.criticalDays) return 'warning';
  return 'critical';
}

/** Fractional days from `from` to `now`; an interaction stamped slightly in the future reads as 0, never negative. */
export function daysBetween(from: Date, now: Date): number {
  return Math.max(0, (now.getTime() - from.getTime()) / DAY_MS);
}

/** The seed's exact response shape for GET /metrics/days-since-last-interaction. */
export interface DaysSinceResponse {
  metric: typeof METRIC_NAME;
  value: number | null;
  status: MetricStatus;
  target: 0;
  last_interaction: string | null;
  total_users: number;
}

export interface Headline {
  lastRealInteractionAt: Date | null;
  totalRealUsers: number;
}

export function daysSinceResponse(headline: Headline, now: Date, settings: StatusBands): DaysSinceResponse {
  const value = headline.lastRealInteractionAt === null ? null : daysBetween(headline.lastRealInteractionAt, now);
  return {
    metric: METRIC_NAME,
    value,
    status: statusFor(value, settings),
    target: 0,
    last_interaction: headline.lastRealInteractionAt?.toISOString() ?? null,
    total_users: headline.totalRealUsers,
  };
}

/**
 * CloudWatch cannot store infinity: before the first real user the number is the days since the baseline,
 * so an empty week alarms like any other week.
 */
export function publishableDays(headline: Headline, baseline: Date, now: Date): number {
  return daysBetween(headline.lastRealInteractionAt ?? baseline, now);
}

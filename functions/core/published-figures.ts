import { ConfigError } from './config.js';
import { publishableDays, type Headline } from './metric.js';

/** Where the figures go in CloudWatch unless METRIC_NAMESPACE says otherwise. */
export const DEFAULT_NAMESPACE = 'SN1MA';

/** The CloudWatch metric names: the alarms and the dashboard in lib/ read the same constants. */
export const FIGURE_NAMES = {
  days: 'DaysSinceLastRealUserInteraction',
  dau: 'DailyActiveUsers',
  wau: 'WeeklyActiveUsers',
  mau: 'MonthlyActiveUsers',
  totalRealUsers: 'TotalRealUsers',
} as const;

/** The headline plus real active users, as the database reads them in one query. */
export interface PulseFigures extends Headline {
  dau: number;
  wau: number;
  mau: number;
}

/** One reading of the number, as the publisher, the notifier, the check-in and the local loop all see it. */
export interface Reading extends PulseFigures {
  at: Date;
  /** Never infinite: before the first real user, the days since the baseline. */
  days: number;
  /** Where the count starts before the first real user (BASELINE_DATE or the install date). */
  baseline: Date;
}

export function readingOf(pulse: PulseFigures, baseline: Date, now: Date): Reading {
  return { ...pulse, at: now, baseline, days: publishableDays(pulse, baseline, now) };
}

/** Published beside the number for the operators: how long the oldest buffered interaction has waited for the fold. */
export const BUFFER_AGE_FIGURE = 'OldestBufferedInteractionAge';

export interface Figure {
  name: (typeof FIGURE_NAMES)[keyof typeof FIGURE_NAMES] | typeof BUFFER_AGE_FIGURE;
  value: number;
  /** CloudWatch has no unit for days. */
  unit: 'None' | 'Count' | 'Seconds';
}

/** The age of the oldest buffered interaction at `now`, 0 when none waits: the alarm on it then has a value every run. */
export function bufferAgeFigure(oldestReceivedAt: number | null, now: Date): Figure {
  const seconds = oldestReceivedAt === null ? 0 : Math.max(0, (now.getTime() - oldestReceivedAt) / 1000);
  return { name: BUFFER_AGE_FIGURE, value: seconds, unit: 'Seconds' };
}

/** The five figures sent to CloudWatch together, so the dashboard never mixes two moments. */
export function figuresOf(reading: Reading): Figure[] {
  return [
    { name: FIGURE_NAMES.days, value: reading.days, unit: 'None' },
    { name: FIGURE_NAMES.dau, value: reading.dau, unit: 'Count' },
    { name: FIGURE_NAMES.wau, value: reading.wau, unit: 'Count' },
    { name: FIGURE_NAMES.mau, value: reading.mau, unit: 'Count' },
    { name: FIGURE_NAMES.totalRealUsers, value: reading.totalRealUsers, unit: 'Count' },
  ];
}

// CloudWatch takes printable ASCII up to 255 characters; AWS/ is reserved for AWS's own metrics.
const NAMESPACE = /^[\x20-\x7E]{1,255}$/;

/** METRIC_NAMESPACE, checked once so a bad value fails at start, not on every publish. */
export function namespaceFromEnv(env: Readonly<Record<string, string | undefined>>): string {
  const raw = env.METRIC_NAMESPACE?.trim();
  if (!raw) return DEFAULT_NAMESPACE;
  if (!NAMESPACE.test(raw) || raw.startsWith('AWS/')) {
    throw new ConfigError('METRIC_NAMESPACE', `must be 1-255 printable ASCII characters not starting with AWS/, got "${raw}"`);
  }
  return raw;
}

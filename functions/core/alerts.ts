import type { AlarmRole, AlarmState } from './alarm-notification.js';
import type { MetricSettings } from './config.js';
import type { Reading } from './published-figures.js';

/**
 * What the team was last told about the number: one of the seed's three bands, "no real user yet"
 * (before the first user, while the days since the baseline are still under a day), or "not being reported".
 */
export const ALERT_STATES = ['no_users_yet', 'healthy', 'warning', 'critical', 'stale'] as const;
export type AlertState = (typeof ALERT_STATES)[number];
export type NumberState = Exclude<AlertState, 'stale'>;

export type AlertSettings = Pick<MetricSettings, 'warningDays' | 'criticalDays'>;

/** The seed's Prometheus rule says `> 7 for: 1h`: critical once the number has stayed above CRITICAL_DAYS for an hour. */
export const CRITICAL_SUSTAIN_DAYS = 1 / 24;

/** How often the number is published: the AWS schedule, the alarms' period, and the local loop's default. */
export const PUBLISH_INTERVAL_SECONDS = 300;

/** How many publishing intervals without a number make it stale: 3 x 5 minutes, as the stale alarm counts. */
export const STALE_AFTER_INTERVALS = 3;
/** How long without a number before the stale alarm fires in AWS. */
export const STALE_AFTER_SECONDS = STALE_AFTER_INTERVALS * PUBLISH_INTERVAL_SECONDS;

/**
 * The band the alarms would be in for this reading. The number only grows between interactions, so
 * "above CRITICAL_DAYS for the last hour" is the same as "above CRITICAL_DAYS + 1 hour now".
 */
export function alertStateFor(reading: Pick<Reading, 'days' | 'lastRealInteractionAt'>, settings: AlertSettings): NumberState {
  if (reading.days > settings.criticalDays + CRITICAL_SUSTAIN_DAYS) return 'critical';
  if (reading.days >= settings.warningDays) return 'warning';
  // "Real users engaging" would be a lie before the first real user.
  return reading.lastRealInteractionAt === null ? 'no_users_yet' : 'healthy';
}

export interface Transition {
  from: AlertState | null;
  to: AlertState;
  /** false: recorded as the new state, but not worth a message. */
  announce: boolean;
}

/**
 * The one rule for when Slack hears about the number, in AWS and locally: on every change of state,
 * except that the very first look at a quiet number (healthy, or no user yet) is noted silently.
 */
export function transition(last: AlertState | null, observed: AlertState): Transition | null {
  if (last === observed) return null;
  return { from: last, to: observed, announce: !(last === null && (observed === 'healthy' || observed === 'no_users_yet')) };
}

/** How bad each state of the number is, for comparing an alarm with the reading. */
const SEVERITY: Record<NumberState, number> = { no_users_yet: 0, healthy: 0, warning: 1, critical: 2 };

/**
 * What an alarm's change says the state is now. ALARM names the state, but never a worse one than the
 * number now (`current`): when a user returns, critical clears before the warning threshold does and the
 * warning composite fires once, late; a quiet number makes that ALARM say nothing (its OK tells the recovery).
 * OK means "recovered", to whatever the number says now, so a hand-over from warning to critical is not a recovery.
 * Null: the change says nothing (INSUFFICIENT_DATA), or it needs the current number and there is none.
 */
export function stateFromAlarm(role: Exclude<AlarmRole, 'operations'>, newState: AlarmState, current: NumberState | null): AlertState | null {
  if (newState === 'OK') return current;
  if (newState !== 'ALARM') return null;
  // A stale alarm is about the pipeline, not the band; without a reading the alarm is all there is.
  if (role === 'stale' || current === null) return role;
  if (SEVERITY[current] >= SEVERITY[role]) return role;
  return SEVERITY[current] > 0 ? current : null;
}

import type { AlertState } from './alerts.js';
import type { ExclusionReason } from './classify.js';
import type { MetricSettings } from './config.js';
import { DAY_MS, statusFor, type MetricStatus } from './metric.js';
import type { Reading } from './published-figures.js';
import { readingFacts, slackMessage, teamTime, type SlackMessage } from './slack-messages.js';

// South Africa has kept UTC+2 without daylight saving since 1944: Friday 09:00 SAST is Friday 07:00 UTC.
const SAST_OFFSET_MS = 2 * 3_600_000;
const FRIDAY = 5;
const CHECK_IN_HOUR = 9;
/** A late check-in (the local service was down at 09:00) still goes out the same Friday, never on another day. */
const LATEST_HOUR = 24;

/** The most recent Friday 09:00 SAST at or before `now`: the check-in that moment is due for. */
export function latestCheckInSlot(now: Date): Date {
  const wall = new Date(now.getTime() + SAST_OFFSET_MS);
  const daysBack = (wall.getUTCDay() - FRIDAY + 7) % 7;
  let slot = Date.UTC(wall.getUTCFullYear(), wall.getUTCMonth(), wall.getUTCDate() - daysBack, CHECK_IN_HOUR);
  if (slot > wall.getTime()) slot -= 7 * DAY_MS;
  return new Date(slot - SAST_OFFSET_MS);
}

/** The slot to post now, or null: already posted, or that Friday is over. */
export function dueCheckIn(now: Date, lastPostedSlot: Date | null): Date | null {
  const slot = latestCheckInSlot(now);
  if (lastPostedSlot !== null && lastPostedSlot.getTime() >= slot.getTime()) return null;
  if (now.getTime() >= slot.getTime() + (LATEST_HOUR - CHECK_IN_HOUR) * 3_600_000) return null;
  return slot;
}

/** What one check-in reported, kept so the next one can say what changed. */
export interface CheckInSnapshot {
  slot: Date;
  days: number;
  status: Exclude<MetricStatus, 'no_users_yet'>;
  dau: number;
  wau: number;
  mau: number;
  totalRealUsers: number;
  newRealUsers: number;
}

export interface CheckInFigures {
  slot: Date;
  reading: Reading;
  newRealUsers: { thisWeek: number; lastWeek: number };
  lastExcluded: { interactionType: string; occurredAt: Date; reason: ExclusionReason } | null;
  /** The check-in before this one; null for the first. */
  previous: CheckInSnapshot | null;
  /** What Slack was told since the previous check-in, oldest first. */
  announcements: ReadonlyArray<{ state: AlertState; at: Date }>;
}

const STATUS_LABEL: Record<Exclude<MetricStatus, 'no_users_yet'>, string> = {
  active: '🟢 HEALTHY',
  warning: '🟡 WARNING',
  critical: '🚨 ALERT',
};

const STATE_LABEL: Record<AlertState, string> = {
  no_users_yet: '⚪ NO USERS YET',
  healthy: '🟢 HEALTHY',
  warning: '🟡 WARNING',
  critical: '🚨 ALERT',
  stale: '⚪ STALE',
};

const REASON_WORDS: Record<ExclusionReason, string> = {
  internal_user: 'an internal user',
  test_traffic: 'test traffic',
  automated_client: 'an automated client',
  not_engagement: 'not engagement',
};

function checkInStatus(reading: Reading, settings: MetricSettings): CheckInSnapshot['status'] {
  // Before the first user the days since the baseline take the same bands: an empty week is a bad week.
  return statusFor(reading.days, settings) as CheckInSnapshot['status'];
}

export function snapshotOf(figures: Pick<CheckInFigures, 'slot' | 'reading' | 'newRealUsers'>, settings: MetricSettings): CheckInSnapshot {
  const { reading } = figures;
  return {
    slot: figures.slot,
    days: reading.days,
    status: checkInStatus(reading, settings),
    dau: reading.dau,
    wau: reading.wau,
    mau: reading.mau,
    totalRealUsers: reading.totalRealUsers,
    newRealUsers: figures.newRealUsers.thisWeek,
  };
}

const change = (before: number | string, after: number | string) => (before === after ? `${after} (unchanged)` : `${before} → ${after}`);

/** The Friday check-in the seed asks for, without anyone running curl. */
export function checkInMessage(figures: CheckInFigures, settings: MetricSettings, dashboardUrl: string | null): SlackMessage {
  const { reading, previous } = figures;
  const status = checkInStatus(reading, settings);
  const noUsers = reading.lastRealInteractionAt === null;
  const headline = `📅 Friday check-in: days since last real user interaction = ${reading.days.toFixed(2)}${noUsers ? ' since the baseline, no real user yet' : ''} (${STATUS_LABEL[status]})`;
  const excluded = figures.lastExcluded;
  const lines = [
    `→ DAU ${reading.dau} (target ${settings.dauTarget}) · MAU ${reading.mau} (target ${settings.mauTarget})`,
    `→ New real users this week: ${figures.newRealUsers.thisWeek} (last week: ${figures.newRealUsers.lastWeek})`,
    excluded === null
      ? '→ Last excluded interaction: none'
      : `→ Last excluded interaction: ${excluded.interactionType} from ${REASON_WORDS[excluded.reason]}, ${teamTime(excluded.occurredAt)}`,
    previous === null
      ? '→ Since last Friday: this is the first check-in, nothing to compare yet'
      : `→ Since last Friday: ${[
          `days ${change(previous.days.toFixed(2), reading.days.toFixed(2))}`,
          `status ${change(STATUS_LABEL[previous.status], STATUS_LABEL[status])}`,
          `DAU ${change(previous.dau, reading.dau)}`,
          `MAU ${change(previous.mau, reading.mau)}`,
          `total real users ${change(previous.totalRealUsers, reading.totalRealUsers)}`,
        ].join(' · ')}`,
    figures.announcements.length === 0
      ? '→ Alerts since last Friday: none'
      : `→ Alerts since last Friday: ${figures.announcements.map((a) => `${STATE_LABEL[a.state]} ${teamTime(a.at)}`).join(', ')}`,
  ];
  return slackMessage(headline, lines, readingFacts(reading), dashboardUrl);
}

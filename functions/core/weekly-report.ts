import type { AlertState } from './alerts.js';
import type { ExclusionReason } from './classify.js';
import { WEEKDAYS, type MetricSettings, type TeamSettings, type Weekday } from './config.js';
import { DAY_MS, statusFor, type MetricStatus } from './metric.js';
import type { Reading } from './published-figures.js';
import { readingFacts, slackMessage, teamTime, type MessageTeam, type SlackMessage } from './slack-messages.js';

/** When the team hears from the check-in: CHECK_IN_DAY at CHECK_IN_HOUR:00 in TEAM_TIME_ZONE. */
export type CheckInTime = Pick<TeamSettings, 'timeZone' | 'checkIn'>;

const DAY_NAMES: Record<Weekday, string> = {
  sun: 'Sunday',
  mon: 'Monday',
  tue: 'Tuesday',
  wed: 'Wednesday',
  thu: 'Thursday',
  fri: 'Friday',
  sat: 'Saturday',
};
export const dayName = (day: Weekday): string => DAY_NAMES[day];

const HOUR_MS = 3_600_000;

// One formatter per time zone: the wall clock there, as numbers.
const clocks = new Map<string, Intl.DateTimeFormat>();
function wallClock(instant: number, timeZone: string) {
  let format = clocks.get(timeZone);
  if (!format) {
    const options = { timeZone, hourCycle: 'h23', weekday: 'short', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric' } as const;
    clocks.set(timeZone, (format = new Intl.DateTimeFormat('en-US', options)));
  }
  const part = Object.fromEntries(format.formatToParts(instant).map((p) => [p.type, p.value]));
  return {
    weekday: WEEKDAYS.indexOf(part.weekday!.toLowerCase().slice(0, 3) as Weekday),
    date: Date.UTC(Number(part.year), Number(part.month) - 1, Number(part.day)),
    hour: Number(part.hour),
    minute: Number(part.minute),
  };
}

/**
 * The first instant whose wall clock in `timeZone` reads `hour`:00 on the UTC-encoded `date`, or null when that hour does not
 * exist there (the hour daylight saving skips). The offsets a day either side cover both sides of any change.
 */
function instantAt(date: number, hour: number, timeZone: string): number | null {
  const wall = date + hour * HOUR_MS;
  const offsets = new Set([-DAY_MS, 0, DAY_MS].map((shift) => {
    const clock = wallClock(wall + shift, timeZone);
    return clock.date + clock.hour * HOUR_MS + clock.minute * 60_000 - Math.floor((wall + shift) / 60_000) * 60_000;
  }));
  const fits = [...offsets].map((offset) => wall - offset).filter((instant) => {
    const clock = wallClock(instant, timeZone);
    return clock.date === date && clock.hour === hour && clock.minute === 0;
  });
  return fits.length === 0 ? null : Math.min(...fits);
}

/**
 * The most recent check-in time (CHECK_IN_DAY at CHECK_IN_HOUR:00, in the team's zone) at or before `now`: the check-in
 * that moment is due for. In a week whose check-in hour daylight saving skips there is none, as EventBridge Scheduler
 * skips it (https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html#daylist-savings-time): the week before's.
 */
export function latestCheckInSlot(now: Date, time: CheckInTime): Date {
  const wall = wallClock(now.getTime(), time.timeZone);
  const day = WEEKDAYS.indexOf(time.checkIn.day);
  const daysBack = (wall.weekday - day + 7) % 7;
  for (let back = daysBack; ; back += 7) {
    const slot = instantAt(wall.date - back * DAY_MS, time.checkIn.hour, time.timeZone);
    if (slot !== null && slot <= now.getTime()) return new Date(slot);
  }
}

/** The slot to post now, or null: already posted, or its day is over (a late check-in never goes out on another day). */
export function dueCheckIn(now: Date, lastPostedSlot: Date | null, time: CheckInTime): Date | null {
  const slot = latestCheckInSlot(now, time);
  if (lastPostedSlot !== null && lastPostedSlot.getTime() >= slot.getTime()) return null;
  if (now.getTime() >= slot.getTime() + (24 - time.checkIn.hour) * HOUR_MS) return null;
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

/** The weekly check-in the seed asks for (on Fridays, unless CHECK_IN_DAY says otherwise), without anyone running curl. */
export function checkInMessage(
  figures: CheckInFigures,
  settings: MetricSettings & { team: MessageTeam & Pick<TeamSettings, 'checkIn'> },
  dashboardUrl: string | null,
): SlackMessage {
  const { reading, previous } = figures;
  const { team } = settings;
  const day = dayName(team.checkIn.day);
  const at = (date: Date) => teamTime(date, team.timeZone);
  const status = checkInStatus(reading, settings);
  const noUsers = reading.lastRealInteractionAt === null;
  const headline = `📅 ${day} check-in: days since last real user interaction = ${reading.days.toFixed(2)}${noUsers ? ' since the baseline, no real user yet' : ''} (${STATUS_LABEL[status]})`;
  const excluded = figures.lastExcluded;
  const lines = [
    `→ DAU ${reading.dau} (target ${settings.dauTarget}) · MAU ${reading.mau} (target ${settings.mauTarget})`,
    `→ New real users this week: ${figures.newRealUsers.thisWeek} (last week: ${figures.newRealUsers.lastWeek})`,
    excluded === null
      ? '→ Last excluded interaction: none'
      : `→ Last excluded interaction: ${excluded.interactionType} from ${REASON_WORDS[excluded.reason]}, ${at(excluded.occurredAt)}`,
    previous === null
      ? `→ Since last ${day}: this is the first check-in, nothing to compare yet`
      : `→ Since last ${day}: ${[
          `days ${change(previous.days.toFixed(2), reading.days.toFixed(2))}`,
          `status ${change(STATUS_LABEL[previous.status], STATUS_LABEL[status])}`,
          `DAU ${change(previous.dau, reading.dau)}`,
          `MAU ${change(previous.mau, reading.mau)}`,
          `total real users ${change(previous.totalRealUsers, reading.totalRealUsers)}`,
        ].join(' · ')}`,
    figures.announcements.length === 0
      ? `→ Alerts since last ${day}: none`
      : `→ Alerts since last ${day}: ${figures.announcements.map((a) => `${STATE_LABEL[a.state]} ${at(a.at)}`).join(', ')}`,
  ];
  return slackMessage(headline, lines, readingFacts(reading, team.timeZone), { team, dashboardUrl });
}

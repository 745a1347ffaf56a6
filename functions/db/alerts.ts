import type { AlertState } from '../core/alerts.js';
import type { Config } from '../core/config.js';
import { readingOf, type Reading } from '../core/published-figures.js';
import { readPulse } from './metrics.js';
import { installedAt } from './migrate.js';
import { epochMs, readEpochMs, type Database } from './port.js';

/**
 * Where the count starts before the first real user: BASELINE_DATE, else the install date (read once:
 * it never changes). The first call's clock is the fallback for a database that has no install record.
 */
export function baselineOf(db: Database, config: Pick<Config, 'baselineDate'>): (now: Date) => Promise<Date> {
  let installed: Promise<Date | null> | undefined;
  return async (now) => {
    if (config.baselineDate) return config.baselineDate;
    installed ??= installedAt(db).catch((error: unknown) => {
      installed = undefined;
      throw error;
    });
    return (await installed) ?? now;
  };
}

/** The number and the active users as of `now`: one pulse query (plus the install date, once). */
export async function readReading(db: Database, config: Config, baseline: (now: Date) => Promise<Date>, now: Date): Promise<Reading> {
  const [pulse, since] = await Promise.all([readPulse(db, config.internal, now), baseline(now)]);
  return readingOf(pulse, since, now);
}

export interface Announcement {
  state: AlertState;
  at: Date;
  days: number | null;
  posted: boolean;
  source: string;
}

const ANNOUNCEMENT_COLUMNS = `a.state, ${epochMs('a.announced_at')} AS announced_at, a.days, a.posted, a.source`;

/** The state Slack was last told (or that was noted silently); null before the first. */
export async function readLastAnnouncement(db: Database): Promise<Announcement | null> {
  const [row] = await db.query(
    `SELECT ${ANNOUNCEMENT_COLUMNS} FROM alert_announcements a ORDER BY a.announced_at DESC, a.id DESC LIMIT 1`,
  );
  return row ? announcementOf(row) : null;
}

export async function recordAnnouncement(db: Database, announcement: Announcement): Promise<void> {
  await db.query(
    'INSERT INTO alert_announcements (state, announced_at, days, posted, source) VALUES (:state, :at, :days, :posted, :source)',
    { state: announcement.state, at: announcement.at, days: announcement.days, posted: announcement.posted, source: announcement.source },
  );
}

/** What Slack heard after `since`, oldest first: the check-in's "alerts since last Friday". */
export async function readAnnouncementsSince(db: Database, since: Date): Promise<Announcement[]> {
  const rows = await db.query(
    `SELECT ${ANNOUNCEMENT_COLUMNS} FROM alert_announcements a
     WHERE a.announced_at > :since AND a.posted ORDER BY a.announced_at, a.id`,
    { since },
  );
  return rows.map(announcementOf);
}

function announcementOf(row: Record<string, unknown>): Announcement {
  return {
    state: row.state as AlertState,
    at: readEpochMs(row.announced_at)!,
    days: row.days === null || row.days === undefined ? null : Number(row.days),
    posted: row.posted === true,
    source: String(row.source),
  };
}

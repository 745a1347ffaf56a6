import type { InternalUsers } from '../core/classify.js';
import type { DayTotals, HistoryWindow } from '../core/history.js';
import { INTERNAL_USERS, internalParams } from './metrics.js';
import { epochMs, readEpochMs, readNumber, type Database } from './port.js';

// One row per day from daily_real_totals, less the internal users' share of it, plus each day's last real
// interaction and the last one before the window: index probes, never a count over every user of every day.
// (LIMIT 1 keeps each internal user's lookup a primary-key probe whatever the statistics say.)
const READ_DAILY_HISTORY = `
WITH ${INTERNAL_USERS},
internal_active AS (
  SELECT a.day, count(*) AS users
  FROM internal_users iu JOIN daily_real_activity a ON a.user_id = iu.user_id
  WHERE a.day BETWEEN :from::date AND :to::date
  GROUP BY a.day
),
internal_new AS (
  SELECT (r.first_real_at AT TIME ZONE 'UTC')::date AS day, count(*) AS users
  FROM internal_users iu
  CROSS JOIN LATERAL (SELECT first_real_at FROM real_users WHERE user_id = iu.user_id LIMIT 1) r
  WHERE (r.first_real_at AT TIME ZONE 'UTC')::date BETWEEN :from::date AND :to::date
  GROUP BY 1
)
SELECT to_char(t.day, 'YYYY-MM-DD') AS day,
       (t.active_users - coalesce(ia.users, 0))::bigint AS active_users,
       (t.new_users - coalesce(inn.users, 0))::bigint AS new_users,
       ${epochMs(`(SELECT a.last_at FROM daily_real_activity a
        WHERE a.day = t.day AND a.user_id NOT IN (SELECT user_id FROM internal_users)
        ORDER BY a.last_at DESC LIMIT 1)`)} AS last_real_at
FROM (
  -- Each day is kept in a few shards, one per writer that was recording at once (counter_shard): add them up.
  SELECT day, sum(active_users) AS active_users, sum(new_users) AS new_users FROM daily_real_totals
  WHERE day BETWEEN :from::date AND :to::date GROUP BY day
) t
LEFT JOIN internal_active ia ON ia.day = t.day
LEFT JOIN internal_new inn ON inn.day = t.day
UNION ALL
SELECT NULL, NULL, NULL,
       ${epochMs(`(SELECT a.last_at FROM daily_real_activity a
        WHERE a.day < :from::date AND a.user_id NOT IN (SELECT user_id FROM internal_users)
        ORDER BY a.day DESC, a.last_at DESC LIMIT 1)`)}
ORDER BY 1 NULLS FIRST`;

export interface DailyHistory {
  totals: DayTotals[];
  /** The last real interaction before the window opened: the days-since the window starts from. */
  lastRealBefore: Date | null;
}

/** Real active users, new real users and the last real interaction of each UTC day in the window. */
export async function readDailyHistory(db: Database, internal: InternalUsers, window: HistoryWindow): Promise<DailyHistory> {
  const rows = await db.query(READ_DAILY_HISTORY, { ...internalParams(internal), from: window.from, to: window.to });
  const history: DailyHistory = { totals: [], lastRealBefore: null };
  for (const row of rows) {
    if (row.day === null || row.day === undefined) {
      history.lastRealBefore = readEpochMs(row.last_real_at);
    } else {
      history.totals.push({
        day: String(row.day),
        activeUsers: readNumber(row.active_users),
        newUsers: readNumber(row.new_users),
        lastRealAt: readEpochMs(row.last_real_at),
      });
    }
  }
  return history;
}

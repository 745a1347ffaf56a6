import type { InternalUsers } from '../core/classify.js';
import { DAY_MS } from '../core/metric.js';
import {
  ACTIVE_WINDOW_DAYS,
  RollingActiveUsers,
  utcDay,
  type Milestone,
  type MilestoneMeasure,
  type MilestoneProgress,
} from '../core/milestones.js';
import { INTERNAL_USERS, internalParams } from './metrics.js';
import { epochMs, json, readEpochMs, readNumber, type Database } from './port.js';

// Each measure now, and for each milestone the moment its target-th user arrived: the N-th smallest
// first_real_at (or first payment) is N steps down an index. For the 30-day measure that moment is only a
// lower bound: nobody has N active users before N users exist. Counts come from the counters kept on write (their shards added up),
// less the internal users found by primary key (LIMIT 1 keeps each lookup a probe whatever the statistics say).
const READ_PROGRESS = `
WITH ${INTERNAL_USERS},
internal_real AS (
  SELECT r.last_real_at FROM internal_users iu
  CROSS JOIN LATERAL (SELECT last_real_at FROM real_users WHERE user_id = iu.user_id LIMIT 1) r
),
internal_paying AS (
  SELECT 1 FROM internal_users iu
  CROSS JOIN LATERAL (
    SELECT 1 FROM real_user_activity WHERE user_id = iu.user_id AND interaction_type = 'payment' LIMIT 1
  ) p
),
measures AS (
  SELECT
    (SELECT sum(users) FROM real_user_count)::bigint - (SELECT count(*) FROM internal_real) AS total_real_users,
    (SELECT count(*) FROM real_users WHERE last_real_at >= :window_start)
      - (SELECT count(*) FROM internal_real WHERE last_real_at >= :window_start) AS active_real_users_30d,
    coalesce((SELECT sum(users) FROM real_user_type_counts WHERE interaction_type = 'payment'), 0)::bigint
      - (SELECT count(*) FROM internal_paying) AS paying_users
)
SELECT w.ordinal, m.total_real_users, m.active_real_users_30d, m.paying_users,
  ${epochMs(`CASE WHEN w.measure = 'paying_users' THEN
    (SELECT first_at FROM real_user_activity
     WHERE interaction_type = 'payment' AND user_id NOT IN (SELECT user_id FROM internal_users)
     ORDER BY first_at OFFSET w.target - 1 LIMIT 1)
  ELSE
    (SELECT first_real_at FROM real_users
     WHERE user_id NOT IN (SELECT user_id FROM internal_users)
     ORDER BY first_real_at OFFSET w.target - 1 LIMIT 1)
  END`)} AS target_th_user_at
FROM jsonb_to_recordset(:wanted::jsonb) AS w(ordinal int, measure text, target int)
CROSS JOIN measures m
ORDER BY w.ordinal`;

// The next (day, user) pairs of real activity after a cursor, in primary-key order.
const READ_ACTIVE_DAYS = `
WITH ${INTERNAL_USERS}
SELECT to_char(a.day, 'YYYY-MM-DD') AS day, a.user_id::text AS user_id FROM daily_real_activity a
WHERE (a.day, a.user_id) > (:after_day::date, :after_user::text)
  AND a.user_id NOT IN (SELECT user_id FROM internal_users)
ORDER BY a.day, a.user_id
LIMIT :limit`;

/** The most (day, user) pairs one read brings back. */
export const ACTIVE_DAYS_PAGE = 5000;

/**
 * Finds, for each target, the first UTC day the rolling 30-day count of distinct real users reached it,
 * reading daily_real_activity forward from `fromDay` a page at a time and stopping once every target is
 * reached. Before that day every window held fewer than the largest target, so fewer users a day: the read
 * stays short even over a long history.
 */
export async function readFirstDaysReachingActive(
  db: Database,
  internal: InternalUsers,
  targets: readonly number[],
  fromDay: string,
  pageSize = ACTIVE_DAYS_PAGE,
): Promise<(string | null)[]> {
  const counters = targets.map((target) => new RollingActiveUsers(target));
  // Before every user of fromDay: a user id is never empty.
  let after = { day: fromDay, user: '' };
  // A busy product reaches its targets within the first few rows: start small, read more each time.
  let limit = Math.min(pageSize, Math.max(100, 2 * Math.max(...targets)));
  for (;;) {
    const rows = await db.query<{ day: string; user_id: string }>(READ_ACTIVE_DAYS, {
      ...internalParams(internal),
      after_day: after.day,
      after_user: after.user,
      limit,
    });
    for (const row of rows) for (const counter of counters) counter.add(row.day, row.user_id);
    if (rows.length < limit || counters.every((counter) => counter.reachedOn !== null)) break;
    const last = rows[rows.length - 1]!;
    after = { day: last.day, user: last.user_id };
    limit = Math.min(pageSize, limit * 4);
  }
  return counters.map((counter) => counter.reachedOn);
}

/** Every milestone's measure now and when it first reached its target, in the milestones' order. */
export async function readMilestoneProgress(
  db: Database,
  internal: InternalUsers,
  milestones: readonly Milestone[],
  now: Date,
): Promise<MilestoneProgress[]> {
  if (milestones.length === 0) return [];
  // The 30-day measure counts UTC days (today and the 29 before), the same window its history is judged on.
  const windowStart = new Date(Date.parse(`${utcDay(now)}T00:00:00Z`) - (ACTIVE_WINDOW_DAYS - 1) * DAY_MS);
  const rows = await db.query(READ_PROGRESS, {
    ...internalParams(internal),
    window_start: windowStart,
    wanted: json(milestones.map((milestone, ordinal) => ({ ordinal, measure: milestone.measure, target: milestone.target }))),
  });
  const progress = rows.map((row, index): MilestoneProgress => {
    const measure = milestones[index]!.measure;
    const reachedAt = readEpochMs(row.target_th_user_at);
    const current = readNumber(row[measure satisfies MilestoneMeasure]);
    return measure === 'active_real_users_30d'
      ? { current, reachedOn: null, reachedAt: null }
      : { current, reachedOn: reachedAt && utcDay(reachedAt), reachedAt };
  });

  const rolling = milestones.flatMap((milestone, index) => {
    const bound = readEpochMs(rows[index]?.target_th_user_at);
    return milestone.measure === 'active_real_users_30d' && bound !== null ? [{ index, target: milestone.target, bound }] : [];
  });
  if (rolling.length > 0) {
    // The window ending on the first possible day already reaches 29 days back.
    const from = Math.min(...rolling.map((item) => item.bound.getTime())) - (ACTIVE_WINDOW_DAYS - 1) * DAY_MS;
    const reached = await readFirstDaysReachingActive(db, internal, rolling.map((item) => item.target), utcDay(new Date(from)));
    rolling.forEach((item, i) => {
      progress[item.index]!.reachedOn = reached[i]!;
    });
  }
  return progress;
}

import { expect } from 'vitest';
import { epochMs, type Database } from '../../functions/db/port.js';

/** Every rollup, recounted from the interactions table by definition, next to what the rollup holds. */
export const RECOUNTS: Array<[string, string, string]> = [
  [
    'users',
    `SELECT user_id::text, ${epochMs('first_seen_at')} AS first_seen_at, marked_internal FROM users ORDER BY 1`,
    `SELECT user_id::text, ${epochMs('min(occurred_at)')} AS first_seen_at, bool_or(marked_internal) AS marked_internal FROM interactions GROUP BY 1 ORDER BY 1`,
  ],
  [
    'user_email_domains',
    `SELECT email_domain, user_id::text FROM user_email_domains ORDER BY 1, 2`,
    `SELECT DISTINCT email_domain, user_id::text FROM interactions WHERE email_domain IS NOT NULL ORDER BY 1, 2`,
  ],
  [
    'real_users',
    `SELECT user_id::text, ${epochMs('first_real_at')} AS first_real_at, ${epochMs('last_real_at')} AS last_real_at FROM real_users ORDER BY 1`,
    `SELECT user_id::text, ${epochMs('min(occurred_at)')} AS first_real_at, ${epochMs('max(occurred_at)')} AS last_real_at FROM interactions
     WHERE exclusion_reason IS NULL GROUP BY 1 ORDER BY 1`,
  ],
  [
    'real_user_count',
    `SELECT sum(users)::int AS users FROM real_user_count`,
    `SELECT count(DISTINCT user_id)::int AS users FROM interactions WHERE exclusion_reason IS NULL`,
  ],
  [
    'real_user_activity',
    `SELECT user_id::text, interaction_type, ${epochMs('first_at')} AS first_at, ${epochMs('last_at')} AS last_at FROM real_user_activity ORDER BY 1, 2`,
    `SELECT user_id::text, interaction_type, ${epochMs('min(occurred_at)')} AS first_at, ${epochMs('max(occurred_at)')} AS last_at FROM interactions
     WHERE exclusion_reason IS NULL GROUP BY 1, 2 ORDER BY 1, 2`,
  ],
  [
    'daily_real_activity',
    `SELECT day::text, user_id::text, ${epochMs('last_at')} AS last_at FROM daily_real_activity ORDER BY 1, 2`,
    `SELECT (occurred_at AT TIME ZONE 'UTC')::date::text AS day, user_id::text, ${epochMs('max(occurred_at)')} AS last_at FROM interactions
     WHERE exclusion_reason IS NULL GROUP BY 1, 2 ORDER BY 1, 2`,
  ],
  [
    'daily_real_totals',
    `SELECT day::text, sum(active_users)::int AS active_users, sum(new_users)::int AS new_users FROM daily_real_totals
     GROUP BY day HAVING sum(active_users) <> 0 OR sum(new_users) <> 0 ORDER BY 1`,
    `WITH real AS (SELECT user_id, occurred_at FROM interactions WHERE exclusion_reason IS NULL),
     active AS (SELECT (occurred_at AT TIME ZONE 'UTC')::date AS day, count(DISTINCT user_id) AS users FROM real GROUP BY 1),
     firsts AS (SELECT (min(occurred_at) AT TIME ZONE 'UTC')::date AS day FROM real GROUP BY user_id),
     fresh AS (SELECT day, count(*) AS users FROM firsts GROUP BY 1)
     SELECT coalesce(a.day, f.day)::text AS day, coalesce(a.users, 0)::int AS active_users, coalesce(f.users, 0)::int AS new_users
     FROM active a FULL JOIN fresh f ON f.day = a.day ORDER BY 1`,
  ],
  [
    'real_user_type_counts',
    `SELECT interaction_type, sum(users)::int AS users FROM real_user_type_counts GROUP BY 1 HAVING sum(users) <> 0 ORDER BY 1`,
    `SELECT interaction_type, count(DISTINCT user_id)::int AS users FROM interactions WHERE exclusion_reason IS NULL GROUP BY 1 ORDER BY 1`,
  ],
];

/** Every rollup holds exactly what a recount of the interactions table gives (counters added up over their shards). */
export async function expectRollupsToEqualRecount(db: Database): Promise<void> {
  for (const [name, rollup, recount] of RECOUNTS) expect({ [name]: await db.query(rollup) }).toEqual({ [name]: await db.query(recount) });
}

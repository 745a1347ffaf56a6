import type { ExclusionReason, InternalUsers } from '../core/classify.js';
import { noExclusions, type Exclusions } from '../core/current-figures.js';
import type { ExcludedInteraction } from '../core/snapshot.js';
import type { CountingType } from '../core/interaction.js';
import { daysBefore, type Headline } from '../core/metric.js';
import { epochMs, json, readEpochMs, readNumber, type Database, type SqlParams } from './port.js';

// A CTE named internal_users, bound by internalParams(). Who is internal is decided here, at read time, so marking a user internal later removes their whole history.
export const INTERNAL_USERS = `internal_users AS (
  SELECT user_id FROM users WHERE marked_internal
  UNION
  -- OFFSET 0 keeps this a lookup per configured domain instead of a join the planner may turn into a scan.
  SELECT d.user_id FROM jsonb_array_elements_text(:internal_email_domains::jsonb) AS domains(domain)
  CROSS JOIN LATERAL (
    SELECT user_id FROM user_email_domains WHERE email_domain = domains.domain OFFSET 0
  ) d
  UNION
  SELECT id::uuid FROM jsonb_array_elements_text(:internal_user_ids::jsonb) AS ids(id)
)`;

export function internalParams(internal: InternalUsers): SqlParams {
  return {
    internal_email_domains: json([...internal.emailDomains]),
    internal_user_ids: json([...internal.userIds]),
  };
}

// The newest real user who is not internal (an index walk), and the kept count (its shards added up) less the internal ones,
// found by one primary-key probe per internal user (LATERAL ... LIMIT 1: never a scan of real_users).
export const HEADLINE_COLUMNS = `
  ${epochMs(`(SELECT last_real_at FROM real_users
   WHERE user_id NOT IN (SELECT user_id FROM internal_users)
   ORDER BY last_real_at DESC LIMIT 1)`)} AS last_real_at,
  (SELECT sum(users) FROM real_user_count)::bigint
    - (SELECT count(*) FROM internal_users iu
       CROSS JOIN LATERAL (SELECT 1 FROM real_users r WHERE r.user_id = iu.user_id LIMIT 1) AS real_internal) AS total_users`;

const READ_HEADLINE = `WITH ${INTERNAL_USERS} SELECT ${HEADLINE_COLUMNS}`;

/** The headline: the last real interaction and how many real users there have ever been. Index reads only. */
export async function readHeadline(db: Database, internal: InternalUsers): Promise<Headline> {
  const [row] = await db.query(READ_HEADLINE, internalParams(internal));
  return { lastRealInteractionAt: readEpochMs(row?.last_real_at), totalRealUsers: readNumber(row?.total_users) };
}

/** The headline plus real active users over rolling 24 h, 7 d and 30 d. */
export interface Pulse extends Headline {
  dau: number;
  wau: number;
  mau: number;
}

const READ_PULSE = `
WITH ${INTERNAL_USERS},
active AS (
  SELECT last_real_at FROM real_users
  WHERE last_real_at > :since_30d AND user_id NOT IN (SELECT user_id FROM internal_users)
)
SELECT ${HEADLINE_COLUMNS},
  (SELECT count(*) FROM active WHERE last_real_at > :since_24h) AS dau,
  (SELECT count(*) FROM active WHERE last_real_at > :since_7d) AS wau,
  (SELECT count(*) FROM active) AS mau`;

/** Everything the publisher sends to CloudWatch, in one query. */
export async function readPulse(db: Database, internal: InternalUsers, now: Date): Promise<Pulse> {
  const [row] = await db.query(READ_PULSE, {
    ...internalParams(internal),
    since_24h: daysBefore(now, 1),
    since_7d: daysBefore(now, 7),
    since_30d: daysBefore(now, 30),
  });
  return {
    lastRealInteractionAt: readEpochMs(row?.last_real_at),
    totalRealUsers: readNumber(row?.total_users),
    dau: readNumber(row?.dau),
    wau: readNumber(row?.wau),
    mau: readNumber(row?.mau),
  };
}

const READ_LAST_BY_TYPE = `
WITH ${INTERNAL_USERS}
SELECT t.interaction_type,
  ${epochMs(`(SELECT a.last_at FROM real_user_activity a
   WHERE a.interaction_type = t.interaction_type AND a.user_id NOT IN (SELECT user_id FROM internal_users)
   ORDER BY a.last_at DESC LIMIT 1)`)} AS last_at
FROM jsonb_array_elements_text(:types::jsonb) AS t(interaction_type)`;

/** When a real user last did each kind of thing. */
export async function readLastRealByType(
  db: Database,
  internal: InternalUsers,
  types: readonly CountingType[],
): Promise<Map<CountingType, Date | null>> {
  const rows = await db.query(READ_LAST_BY_TYPE, { ...internalParams(internal), types: json(types) });
  return new Map(rows.map((row) => [row.interaction_type as CountingType, readEpochMs(row.last_at)]));
}

export type { ExcludedInteraction, Exclusions };

// The last interaction that did not count (a stored exclusion, or any interaction of an internal user), as a CTE named
// last_excluded. Ties broken by event_id in byte order, as functions/core/current-figures.ts breaks them.
export const LAST_EXCLUDED = `last_stored AS (
  SELECT event_id, user_id, interaction_type, occurred_at, exclusion_reason FROM interactions
  WHERE exclusion_reason IS NOT NULL ORDER BY occurred_at DESC, event_id COLLATE "C" DESC LIMIT 1
),
last_internal AS (
  SELECT x.* FROM internal_users iu
  CROSS JOIN LATERAL (
    SELECT event_id, user_id, interaction_type, occurred_at, exclusion_reason FROM interactions i
    WHERE i.user_id = iu.user_id ORDER BY occurred_at DESC, event_id COLLATE "C" DESC LIMIT 1
  ) x
  ORDER BY x.occurred_at DESC, x.event_id COLLATE "C" DESC LIMIT 1
),
last_excluded AS (
  SELECT * FROM (SELECT * FROM last_stored UNION ALL SELECT * FROM last_internal) l
  ORDER BY occurred_at DESC, event_id COLLATE "C" DESC LIMIT 1
)`;

// Every interaction after :since that did not count, with its reason, as a CTE named recent_excluded.
export const RECENT_EXCLUDED = `recent AS (
  SELECT user_id, occurred_at, exclusion_reason FROM interactions
  WHERE exclusion_reason IS NOT NULL AND occurred_at > :since
  UNION ALL
  SELECT i.user_id, i.occurred_at, i.exclusion_reason FROM internal_users iu
  JOIN interactions i ON i.user_id = iu.user_id AND i.occurred_at > :since AND i.exclusion_reason IS NULL
),
recent_excluded AS (
  SELECT r.occurred_at, CASE WHEN r.user_id IN (SELECT user_id FROM internal_users) THEN 'internal_user' ELSE r.exclusion_reason END AS reason
  FROM recent r
)`;

/** The last excluded interaction's columns, with its reason as read now. */
export const LAST_EXCLUDED_COLUMNS = `l.event_id, l.interaction_type, ${epochMs('l.occurred_at')} AS occurred_at,
       CASE WHEN l.user_id IN (SELECT user_id FROM internal_users) THEN 'internal_user' ELSE l.exclusion_reason END AS reason`;

const READ_EXCLUSIONS = `
WITH ${INTERNAL_USERS}, ${LAST_EXCLUDED}, ${RECENT_EXCLUDED}
SELECT 'last' AS kind, ${LAST_EXCLUDED_COLUMNS}, 0 AS interactions
FROM last_excluded l
UNION ALL
SELECT 'count', NULL, NULL, NULL, reason, count(*) FROM recent_excluded GROUP BY reason`;

export function excludedInteractionOf(row: Record<string, unknown>): ExcludedInteraction {
  return {
    eventId: String(row.event_id),
    interactionType: String(row.interaction_type),
    occurredAt: readEpochMs(row.occurred_at)!,
    reason: row.reason as ExclusionReason,
  };
}

/** What did not count: the last excluded interaction and counts per reason since `since`. */
export async function readExclusions(db: Database, internal: InternalUsers, since: Date): Promise<Exclusions> {
  const rows = await db.query(READ_EXCLUSIONS, { ...internalParams(internal), since });
  const countsSince = noExclusions();
  let last: ExcludedInteraction | null = null;
  for (const row of rows) {
    if (row.kind === 'last') last = excludedInteractionOf(row);
    else countsSince[row.reason as ExclusionReason] = readNumber(row.interactions);
  }
  return { last, countsSince };
}

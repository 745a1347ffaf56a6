import type { ExclusionReason, InternalUsers } from '../core/classify.js';
import { noExclusions, type Exclusions, type LastOfType } from '../core/current-figures.js';
import type { ExcludedInteraction } from '../core/snapshot.js';
import { daysBefore, type Headline } from '../core/metric.js';
import { epochMs, json, readEpochMs, readNumber, type Database, type SqlParams } from './port.js';

// A CTE named internal_users, bound by internalParams(). Who is internal is decided here, at read time, so marking a user
// internal later removes their whole history. An internal email domain covers its subdomains: per configured domain, one
// lookup of the domain itself and one range of user_email_domains_reversed for everything under it (see
// sql/functions/has_internal_email_domain.sql, which asks the same of one user).
export const INTERNAL_USERS = `internal_users AS (
  SELECT user_id FROM users WHERE marked_internal
  UNION
  -- OFFSET 0 keeps each a lookup per configured domain instead of a join the planner may turn into a scan.
  SELECT d.user_id FROM jsonb_array_elements_text(:internal_email_domains::jsonb) AS domains(domain)
  CROSS JOIN LATERAL (
    SELECT user_id FROM user_email_domains WHERE email_domain = domains.domain OFFSET 0
  ) d
  UNION
  SELECT d.user_id FROM jsonb_array_elements_text(:internal_email_domains::jsonb) AS domains(domain)
  CROSS JOIN LATERAL (
    SELECT user_id FROM user_email_domains
    WHERE reverse(email_domain) >= reverse(domains.domain) || '.' AND reverse(email_domain) < reverse(domains.domain) || '/'
    OFFSET 0
  ) d
  UNION
  SELECT id FROM jsonb_array_elements_text(:internal_user_ids::jsonb) AS ids(id)
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

// The three windows in one pass over the last 30 days' users: as three counts of a CTE, the rows were materialized
// and read three times (at 1,000,000 stored, 65,000 users: most of GET /metrics/summary's time on PGlite).
const READ_PULSE = `
WITH ${INTERNAL_USERS},
active AS (
  SELECT count(*) FILTER (WHERE last_real_at > :since_24h) AS dau,
         count(*) FILTER (WHERE last_real_at > :since_7d) AS wau,
         count(*) AS mau
  FROM real_users
  WHERE last_real_at > :since_30d AND user_id NOT IN (SELECT user_id FROM internal_users)
)
SELECT ${HEADLINE_COLUMNS}, active.dau, active.wau, active.mau FROM active`;

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

// Every counting type in the configured order, then every other type a real client sent (a page view; a type that counted
// before INTERACTION_TYPES changed), each with the last real interaction of a non-internal user. The other types are
// found by a skip scan of interactions_not_engagement_type, one index descent per type, never by reading history; listed
// in byte order, as functions/core/current-figures.ts lists them.
const READ_LAST_BY_TYPE = `
WITH RECURSIVE ${INTERNAL_USERS},
not_counted(interaction_type) AS (
  (SELECT interaction_type FROM interactions WHERE exclusion_reason = 'not_engagement' ORDER BY interaction_type LIMIT 1)
  UNION ALL
  SELECT (SELECT i.interaction_type FROM interactions i
          WHERE i.exclusion_reason = 'not_engagement' AND i.interaction_type > n.interaction_type
          ORDER BY i.interaction_type LIMIT 1)
  FROM not_counted n WHERE n.interaction_type IS NOT NULL
),
counting AS (
  SELECT t.interaction_type, t.ordinal FROM jsonb_array_elements_text(:types::jsonb) WITH ORDINALITY AS t(interaction_type, ordinal)
),
listed AS (
  SELECT interaction_type, true AS counts, ordinal FROM counting
  UNION ALL
  SELECT interaction_type, false, NULL FROM (
    SELECT interaction_type FROM not_counted WHERE interaction_type IS NOT NULL
    UNION
    SELECT interaction_type FROM real_user_type_counts GROUP BY interaction_type HAVING sum(users) > 0
  ) o WHERE o.interaction_type NOT IN (SELECT interaction_type FROM counting)
)
SELECT l.interaction_type, l.counts,
  ${epochMs(`(SELECT a.last_at FROM real_user_activity a
   WHERE a.interaction_type = l.interaction_type AND a.user_id NOT IN (SELECT user_id FROM internal_users)
   ORDER BY a.last_at DESC LIMIT 1)`)} AS last_at,
  ${epochMs(`CASE WHEN NOT l.counts THEN
    (SELECT i.occurred_at FROM interactions i
     WHERE i.exclusion_reason = 'not_engagement' AND i.interaction_type = l.interaction_type
       AND i.user_id NOT IN (SELECT user_id FROM internal_users)
     ORDER BY i.occurred_at DESC LIMIT 1)
  END`)} AS last_not_counted_at
FROM listed l
ORDER BY l.counts DESC, l.ordinal, l.interaction_type COLLATE "C"`;

const later = (a: Date | null, b: Date | null): Date | null => (a === null || (b !== null && b > a) ? b : a);

/**
 * When a real user last did each kind of thing: every counting type (in the given order), then each type that does not
 * count, with the last time a user who is not internal sent it from a real client (not test traffic, not a script).
 */
export async function readLastRealByType(
  db: Database,
  internal: InternalUsers,
  countingTypes: Iterable<string>,
): Promise<Map<string, LastOfType>> {
  const rows = await db.query(READ_LAST_BY_TYPE, { ...internalParams(internal), types: json([...countingTypes]) });
  return new Map(
    rows.map((row) => {
      const counts = row.counts === true;
      const at = readEpochMs(row.last_at);
      return [String(row.interaction_type), { at: counts ? at : later(at, readEpochMs(row.last_not_counted_at)), counts }];
    }),
  );
}

export type { ExcludedInteraction, Exclusions, LastOfType };

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

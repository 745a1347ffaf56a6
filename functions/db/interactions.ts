import type { StoredExclusionReason } from '../core/classify.js';
import type { InteractionType } from '../core/interaction.js';
import { json, readJson, type Database } from './port.js';

/** An interaction as it is kept: the email reduced to its domain, the verdict that does not depend on the user. */
export interface StoredInteraction {
  event_id: string;
  user_id: string;
  interaction_type: InteractionType;
  occurred_at: string;
  exclusion_reason: StoredExclusionReason | null;
  marked_internal: boolean;
  email_domain: string | null;
  user_agent: string | null;
  ip: string | null;
  metadata: Record<string, unknown>;
}

/** What became of one submitted interaction, and what was known of its user before it arrived. */
export interface RecordOutcome {
  /** false: its event_id was already stored (earlier, or earlier in the same batch) and nothing changed. */
  recorded: boolean;
  /** The stored interaction this event_id stands for (the original, for a duplicate). */
  stored: Pick<StoredInteraction, 'user_id' | 'exclusion_reason' | 'marked_internal' | 'email_domain'>;
  knownUser: { markedInternal: boolean; emailDomains: string[] } | null;
}

// One statement, one round trip, for one interaction or five hundred: the interactions travel as one JSON
// parameter (the Data API has no arrays) and every rollup is maintained by the same statement.
const RECORD_INTERACTIONS = `
WITH input AS (
  SELECT r.*, e.ordinal
  FROM jsonb_array_elements(:interactions::jsonb) WITH ORDINALITY AS e(item, ordinal)
  CROSS JOIN LATERAL jsonb_to_record(e.item) AS r(
    event_id text, user_id uuid, interaction_type text, occurred_at timestamptz, exclusion_reason text,
    marked_internal boolean, email_domain text, user_agent text, ip text, metadata jsonb)
),
first_copy AS (
  SELECT DISTINCT ON (event_id) * FROM input ORDER BY event_id, ordinal
),
inserted AS (
  INSERT INTO interactions (event_id, user_id, interaction_type, occurred_at, exclusion_reason, marked_internal,
                            email_domain, user_agent, ip, metadata)
  SELECT event_id, user_id, interaction_type, occurred_at, exclusion_reason, marked_internal,
         email_domain, user_agent, ip, coalesce(metadata, '{}'::jsonb)
  FROM first_copy ORDER BY ordinal
  ON CONFLICT (event_id) DO NOTHING
  RETURNING event_id, user_id, interaction_type, occurred_at, exclusion_reason, marked_internal, email_domain
),
known_users AS (
  INSERT INTO users (user_id, first_seen_at, marked_internal, email_domains)
  SELECT user_id, min(occurred_at), bool_or(marked_internal),
         coalesce(array_agg(DISTINCT email_domain) FILTER (WHERE email_domain IS NOT NULL), '{}')
  FROM inserted GROUP BY user_id
  ON CONFLICT (user_id) DO UPDATE SET
    first_seen_at   = least(users.first_seen_at, excluded.first_seen_at),
    marked_internal = users.marked_internal OR excluded.marked_internal,
    email_domains   = ARRAY(SELECT DISTINCT d FROM unnest(users.email_domains || excluded.email_domains) AS d ORDER BY d)
  -- Rewriting an unchanged row would still update every index: most interactions teach nothing new.
  WHERE excluded.first_seen_at < users.first_seen_at
     OR (excluded.marked_internal AND NOT users.marked_internal)
     OR NOT (excluded.email_domains <@ users.email_domains)
  RETURNING user_id
),
real AS (
  SELECT * FROM inserted WHERE exclusion_reason IS NULL
),
real_user_rows AS (
  INSERT INTO real_users (user_id, first_real_at, last_real_at)
  SELECT user_id, min(occurred_at), max(occurred_at) FROM real GROUP BY user_id
  ON CONFLICT (user_id) DO UPDATE SET
    first_real_at = least(real_users.first_real_at, excluded.first_real_at),
    last_real_at  = greatest(real_users.last_real_at, excluded.last_real_at)
  WHERE excluded.first_real_at < real_users.first_real_at OR excluded.last_real_at > real_users.last_real_at
  RETURNING (xmax = 0) AS is_new
),
real_user_total AS (
  UPDATE real_user_count SET users = users + (SELECT count(*) FROM real_user_rows WHERE is_new)
  WHERE EXISTS (SELECT 1 FROM real_user_rows WHERE is_new)
  RETURNING users
),
by_type AS (
  INSERT INTO real_user_activity (user_id, interaction_type, first_at, last_at)
  SELECT user_id, interaction_type, min(occurred_at), max(occurred_at) FROM real GROUP BY user_id, interaction_type
  ON CONFLICT (user_id, interaction_type) DO UPDATE SET
    first_at = least(real_user_activity.first_at, excluded.first_at),
    last_at  = greatest(real_user_activity.last_at, excluded.last_at)
  WHERE excluded.first_at < real_user_activity.first_at OR excluded.last_at > real_user_activity.last_at
  RETURNING user_id
),
by_day AS (
  INSERT INTO daily_real_activity (day, user_id, last_at)
  SELECT (occurred_at AT TIME ZONE 'UTC')::date, user_id, max(occurred_at) FROM real GROUP BY 1, 2
  ON CONFLICT (day, user_id) DO UPDATE SET last_at = excluded.last_at
  WHERE excluded.last_at > daily_real_activity.last_at
  RETURNING user_id
)
SELECT
  i.ordinal,
  (ins.event_id IS NOT NULL AND f.ordinal = i.ordinal) AS recorded,
  coalesce(e.user_id, f.user_id)                AS user_id,
  coalesce(e.exclusion_reason, f.exclusion_reason) AS exclusion_reason,
  coalesce(e.marked_internal, f.marked_internal) AS marked_internal,
  CASE WHEN e.event_id IS NULL THEN f.email_domain ELSE e.email_domain END AS email_domain,
  u.marked_internal                             AS prior_marked_internal,
  to_jsonb(u.email_domains)                     AS prior_email_domains
FROM input i
JOIN first_copy f ON f.event_id = i.event_id
LEFT JOIN inserted ins ON ins.event_id = i.event_id
-- LATERAL ... LIMIT 1 (never flattened into a join) keeps these on the unique indexes whatever the statistics say.
-- Like every part of this statement they see the database as it was before it ran: the original of a
-- duplicate, the user as known before.
LEFT JOIN LATERAL (
  SELECT x.event_id, x.user_id, x.exclusion_reason, x.marked_internal, x.email_domain
  FROM interactions x WHERE x.event_id = i.event_id LIMIT 1
) e ON true
LEFT JOIN LATERAL (
  SELECT p.marked_internal, p.email_domains FROM users p WHERE p.user_id = coalesce(e.user_id, f.user_id) LIMIT 1
) u ON true
ORDER BY i.ordinal`;

interface OutcomeRow {
  ordinal: number | string;
  recorded: boolean;
  user_id: string;
  exclusion_reason: StoredExclusionReason | null;
  marked_internal: boolean;
  email_domain: string | null;
  prior_marked_internal: boolean | null;
  prior_email_domains: unknown;
}

/** Stores interactions (idempotent on event_id) and maintains every rollup, in one statement. */
async function recordNow(db: Database, interactions: readonly StoredInteraction[]): Promise<RecordOutcome[]> {
  const rows = await db.query<OutcomeRow>(RECORD_INTERACTIONS, { interactions: json(interactions) });
  return rows.map((row) => ({
    recorded: row.recorded,
    stored: {
      user_id: row.user_id,
      exclusion_reason: row.exclusion_reason,
      marked_internal: row.marked_internal,
      email_domain: row.email_domain,
    },
    knownUser:
      row.prior_marked_internal === null
        ? null
        : { markedInternal: row.prior_marked_internal, emailDomains: readJson<string[]>(row.prior_email_domains) },
  }));
}

interface Waiting {
  interactions: readonly StoredInteraction[];
  resolve(outcomes: RecordOutcome[]): void;
  reject(error: unknown): void;
}

/** Most items one statement carries: the batch route's limit. */
const MAX_ITEMS_PER_STATEMENT = 500;
const queues = new WeakMap<Database, { running: boolean; waiting: Waiting[] }>();

/**
 * Records interactions. Calls that arrive while a statement is running on the same database are sent
 * together as the next statement (group commit): one connection, as PGlite has, then serves many
 * concurrent requests. A lone call runs at once, and a caller whose items break a shared statement is
 * retried alone, so no caller fails for another's interactions.
 */
export function recordInteractions(db: Database, interactions: readonly StoredInteraction[]): Promise<RecordOutcome[]> {
  return new Promise((resolve, reject) => {
    let queue = queues.get(db);
    if (!queue) queues.set(db, (queue = { running: false, waiting: [] }));
    queue.waiting.push({ interactions, resolve, reject });
    if (!queue.running) void drain(db, queue);
  });
}

async function drain(db: Database, queue: { running: boolean; waiting: Waiting[] }): Promise<void> {
  queue.running = true;
  while (queue.waiting.length > 0) {
    const group = [queue.waiting.shift()!];
    let items = group[0]!.interactions.length;
    while (queue.waiting.length > 0 && items + queue.waiting[0]!.interactions.length <= MAX_ITEMS_PER_STATEMENT) {
      items += queue.waiting[0]!.interactions.length;
      group.push(queue.waiting.shift()!);
    }
    await recordGroup(db, group);
  }
  queue.running = false;
}

async function recordGroup(db: Database, group: Waiting[]): Promise<void> {
  try {
    const outcomes = await recordNow(db, group.flatMap((waiting) => waiting.interactions));
    let offset = 0;
    for (const waiting of group) {
      waiting.resolve(outcomes.slice(offset, (offset += waiting.interactions.length)));
    }
  } catch (error) {
    if (group.length === 1) return group[0]!.reject(error);
    for (const waiting of group) await recordGroup(db, [waiting]);
  }
}

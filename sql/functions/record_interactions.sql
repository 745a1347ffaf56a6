-- Recording: one call, one statement, for one interaction or five hundred. The interactions travel as one JSON
-- document (the Data API has no array parameters), and every rollup and counter is maintained by the same statement,
-- so reads never scan history. It is a function rather than query text because PL/pgSQL keeps its plan per
-- connection: measured on PGlite, parsing and planning this statement on every call cost about 3x the insert itself.
--
-- Each row answers for one interaction of the batch, in its order: whether it was recorded (false: a duplicate
-- event_id, answered with the original's verdict), and whether its user was already known to be internal (marked,
-- or with an email domain under one of internal_email_domains, a JSON array: has_internal_email_domain) before this
-- statement; NULL when the user was not known.
--
-- Many writers at once (Aurora runs a Lambda per request):
-- - Row locks are taken table by table in one order (interactions, users, user_email_domains, real_users,
--   real_user_activity, daily_real_activity), each table in key order; the counters come last, in the shard this
--   transaction leased (counter_shard), so concurrent batches wait for each other instead of deadlocking.
-- - A rollup row that already covers what the batch brings (as this statement's snapshot sees it) is left alone
--   rather than upserted: ON CONFLICT DO UPDATE locks the row even when its WHERE says there is nothing to change,
--   and those locks made writers with users in common wait for each other's commits. Skipping is safe because
--   rollups only widen (first earlier, last later, internal once true): what covered a batch in the snapshot still
--   covers it now.
-- - New days, new users and new per-type users are counted from the rows the upserts inserted, one upsert per
--   counter row; triggers on the rollups count only deletes and a first day that moves earlier.
-- - Each user of the batch is read from `users` once (batch_users), for the upsert and the answer alike: with the
--   bench's 8 writers on two cores, the server's CPU goes to descending b-trees, so index reads per batch are what
--   throughput costs.
CREATE FUNCTION record_interactions(batch jsonb, internal_email_domains jsonb)
RETURNS TABLE (
    ordinal          bigint,
    recorded         boolean,
    user_id          text,
    exclusion_reason text,
    marked_internal  boolean,
    email_domain     text,
    prior_internal   boolean
)
LANGUAGE plpgsql AS $record$
#variable_conflict use_column
DECLARE
  mine smallint := counter_shard();
BEGIN
  RETURN QUERY
  WITH input AS (
    SELECT r.*, e.ordinal
    FROM jsonb_array_elements(batch) WITH ORDINALITY AS e(item, ordinal)
    CROSS JOIN LATERAL jsonb_to_record(e.item) AS r(
      event_id text, user_id text, interaction_type text, occurred_at timestamptz, exclusion_reason text,
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
    FROM first_copy ORDER BY event_id
    ON CONFLICT (event_id) DO NOTHING
    RETURNING event_id, user_id, interaction_type, occurred_at, exclusion_reason, marked_internal, email_domain
  ),
  -- What was known of each user the batch names, as this statement's snapshot shows it: one primary-key read per
  -- user, shared by the users upsert and the answer (it was one read for each, and one more per interaction).
  batch_users AS MATERIALIZED (
    SELECT g.user_id, p.first_seen_at, p.marked_internal, p.internal
    FROM (SELECT DISTINCT user_id FROM input) g
    LEFT JOIN LATERAL (
      SELECT p.first_seen_at, p.marked_internal,
             p.marked_internal OR has_internal_email_domain(p.user_id, record_interactions.internal_email_domains) AS internal
      FROM users p WHERE p.user_id = g.user_id LIMIT 1
    ) p ON true
  ),
  known_users AS (
    INSERT INTO users (user_id, first_seen_at, marked_internal)
    SELECT g.user_id, g.first_seen_at, g.marked_internal
    FROM (SELECT user_id, min(occurred_at) AS first_seen_at, bool_or(marked_internal) AS marked_internal FROM inserted GROUP BY user_id) g
    JOIN batch_users b ON b.user_id = g.user_id
    WHERE (b.first_seen_at <= g.first_seen_at AND (b.marked_internal OR NOT g.marked_internal)) IS NOT TRUE
    ORDER BY g.user_id
    ON CONFLICT (user_id) DO UPDATE SET
      first_seen_at   = least(users.first_seen_at, excluded.first_seen_at),
      marked_internal = users.marked_internal OR excluded.marked_internal
    -- Rewriting an unchanged row would still update every index: most interactions teach nothing new.
    WHERE excluded.first_seen_at < users.first_seen_at OR (excluded.marked_internal AND NOT users.marked_internal)
    RETURNING user_id
  ),
  user_domains AS (
    INSERT INTO user_email_domains (email_domain, user_id)
    SELECT g.email_domain, g.user_id
    FROM (SELECT DISTINCT email_domain, user_id FROM inserted WHERE email_domain IS NOT NULL) g
    LEFT JOIN LATERAL (
      SELECT true AS covered FROM user_email_domains k WHERE k.email_domain = g.email_domain AND k.user_id = g.user_id LIMIT 1
    ) known ON true
    WHERE known.covered IS NULL
    ORDER BY g.email_domain, g.user_id
    ON CONFLICT DO NOTHING
    RETURNING user_id
  ),
  real AS (
    SELECT * FROM inserted WHERE exclusion_reason IS NULL
  ),
  real_user_rows AS (
    INSERT INTO real_users (user_id, first_real_at, last_real_at)
    SELECT g.user_id, g.first_at, g.last_at
    FROM (SELECT user_id, min(occurred_at) AS first_at, max(occurred_at) AS last_at FROM real GROUP BY user_id) g
    LEFT JOIN LATERAL (
      SELECT true AS covered FROM real_users r
      WHERE r.user_id = g.user_id AND r.first_real_at <= g.first_at AND r.last_real_at >= g.last_at LIMIT 1
    ) known ON true
    WHERE known.covered IS NULL
    ORDER BY g.user_id
    ON CONFLICT (user_id) DO UPDATE SET
      first_real_at = least(real_users.first_real_at, excluded.first_real_at),
      last_real_at  = greatest(real_users.last_real_at, excluded.last_real_at)
    WHERE excluded.first_real_at < real_users.first_real_at OR excluded.last_real_at > real_users.last_real_at
    RETURNING first_real_at, xmax = 0 AS added
  ),
  by_type AS (
    INSERT INTO real_user_activity (user_id, interaction_type, first_at, last_at)
    SELECT g.user_id, g.interaction_type, g.first_at, g.last_at
    FROM (SELECT user_id, interaction_type, min(occurred_at) AS first_at, max(occurred_at) AS last_at FROM real GROUP BY 1, 2) g
    LEFT JOIN LATERAL (
      SELECT true AS covered FROM real_user_activity a
      WHERE a.user_id = g.user_id AND a.interaction_type = g.interaction_type AND a.first_at <= g.first_at AND a.last_at >= g.last_at
      LIMIT 1
    ) known ON true
    WHERE known.covered IS NULL
    ORDER BY g.user_id, g.interaction_type
    ON CONFLICT (user_id, interaction_type) DO UPDATE SET
      first_at = least(real_user_activity.first_at, excluded.first_at),
      last_at  = greatest(real_user_activity.last_at, excluded.last_at)
    WHERE excluded.first_at < real_user_activity.first_at OR excluded.last_at > real_user_activity.last_at
    RETURNING interaction_type, xmax = 0 AS added
  ),
  -- No skip here: a day's row changes whenever its user is back later that day, which is most of live traffic, and a
  -- backfill brings mostly new days (in the bench the probe skipped 31 rows of 412), so the probe cost more than it saved.
  by_day AS (
    INSERT INTO daily_real_activity (day, user_id, last_at)
    SELECT (occurred_at AT TIME ZONE 'UTC')::date AS day, user_id, max(occurred_at) AS last_at FROM real
    GROUP BY 1, 2
    ORDER BY 1, 2
    ON CONFLICT (day, user_id) DO UPDATE SET last_at = excluded.last_at
    WHERE excluded.last_at > daily_real_activity.last_at
    RETURNING day, xmax = 0 AS added
  ),
  -- The counters, in this transaction's shard (counter_shard), from the rows the upserts above inserted rather than updated
  -- (a row an upsert inserted has no xmax; one it updated carries this transaction's lock). Only shards that change
  -- are written: a batch of returning users touches none.
  counted_types AS (
    INSERT INTO real_user_type_counts (interaction_type, shard, users)
    SELECT interaction_type, mine, count(*) FROM by_type WHERE added GROUP BY interaction_type
    ON CONFLICT (interaction_type, shard) DO UPDATE SET users = real_user_type_counts.users + excluded.users
  ),
  counted_users AS (
    INSERT INTO real_user_count (shard, users)
    SELECT mine, count(*) FROM real_user_rows WHERE added HAVING count(*) > 0
    ON CONFLICT (shard) DO UPDATE SET users = real_user_count.users + excluded.users
  ),
  counted_days AS (
    INSERT INTO daily_real_totals (day, shard, active_users, new_users)
    SELECT day, mine, sum(active), sum(new) FROM (
      SELECT day, 1 AS active, 0 AS new FROM by_day WHERE added
      UNION ALL
      SELECT (first_real_at AT TIME ZONE 'UTC')::date, 0, 1 FROM real_user_rows WHERE added
    ) d GROUP BY day
    ON CONFLICT (day, shard) DO UPDATE SET
      active_users = daily_real_totals.active_users + excluded.active_users,
      new_users    = daily_real_totals.new_users + excluded.new_users
  )
  SELECT
    i.ordinal,
    (ins.event_id IS NOT NULL AND f.ordinal = i.ordinal) AS recorded,
    coalesce(e.user_id, f.user_id)                AS user_id,
    coalesce(e.exclusion_reason, f.exclusion_reason) AS exclusion_reason,
    coalesce(e.marked_internal, f.marked_internal) AS marked_internal,
    CASE WHEN e.event_id IS NULL THEN f.email_domain ELSE e.email_domain END AS email_domain,
    CASE WHEN b.user_id IS NULL THEN u.internal ELSE b.internal END AS prior_internal
  FROM input i
  JOIN first_copy f ON f.event_id = i.event_id
  LEFT JOIN inserted ins ON ins.event_id = i.event_id
  -- LATERAL ... LIMIT 1 (never flattened into a join) keeps these on the unique indexes whatever the statistics say.
  -- Like every part of this statement they see the database as it was before it ran: the original of a
  -- duplicate, the user as known before.
  LEFT JOIN LATERAL (
    SELECT x.event_id, x.user_id, x.exclusion_reason, x.marked_internal, x.email_domain
    FROM interactions x WHERE ins.event_id IS NULL AND x.event_id = i.event_id LIMIT 1
  ) e ON true
  LEFT JOIN batch_users b ON b.user_id = coalesce(e.user_id, f.user_id)
  -- A duplicate whose original names a user this batch does not: read that user as the batch's users were read.
  LEFT JOIN LATERAL (
    SELECT p.marked_internal OR has_internal_email_domain(p.user_id, record_interactions.internal_email_domains) AS internal
    FROM users p WHERE b.user_id IS NULL AND p.user_id = e.user_id LIMIT 1
  ) u ON true
  ORDER BY i.ordinal;
END
$record$;

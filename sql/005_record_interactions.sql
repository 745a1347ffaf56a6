-- Recording, as a function: one call, one statement, for one interaction or five hundred. The interactions
-- travel as one JSON document (the Data API has no array parameters) and every rollup is maintained by the same
-- statement. It lives here rather than as query text because PL/pgSQL keeps its plan per connection: measured on
-- PGlite, parsing and planning this statement on every call cost about 3x the insert itself (see README, Speed).
-- Row locks are taken in key order (event_id, user_id, day) so concurrent batches on Aurora wait for each other
-- instead of deadlocking. Change it only with CREATE OR REPLACE in a later migration.
CREATE FUNCTION record_interactions(batch jsonb)
RETURNS TABLE (
    ordinal               bigint,
    recorded              boolean,
    user_id               uuid,
    exclusion_reason      text,
    marked_internal       boolean,
    email_domain          text,
    prior_marked_internal boolean,
    prior_email_domains   jsonb
)
LANGUAGE plpgsql AS $record$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH input AS (
    SELECT r.*, e.ordinal
    FROM jsonb_array_elements(batch) WITH ORDINALITY AS e(item, ordinal)
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
    FROM first_copy ORDER BY event_id
    ON CONFLICT (event_id) DO NOTHING
    RETURNING event_id, user_id, interaction_type, occurred_at, exclusion_reason, marked_internal, email_domain
  ),
  known_users AS (
    INSERT INTO users (user_id, first_seen_at, marked_internal, email_domains)
    SELECT user_id, min(occurred_at), bool_or(marked_internal),
           coalesce(array_agg(DISTINCT email_domain) FILTER (WHERE email_domain IS NOT NULL), '{}')
    FROM inserted GROUP BY user_id ORDER BY user_id
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
  user_domains AS (
    INSERT INTO user_email_domains (email_domain, user_id)
    SELECT DISTINCT email_domain, user_id FROM inserted WHERE email_domain IS NOT NULL ORDER BY email_domain, user_id
    ON CONFLICT DO NOTHING
    RETURNING user_id
  ),
  real AS (
    SELECT * FROM inserted WHERE exclusion_reason IS NULL
  ),
  real_user_rows AS (
    INSERT INTO real_users (user_id, first_real_at, last_real_at)
    SELECT user_id, min(occurred_at), max(occurred_at) FROM real GROUP BY user_id ORDER BY user_id
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
    ORDER BY user_id, interaction_type
    ON CONFLICT (user_id, interaction_type) DO UPDATE SET
      first_at = least(real_user_activity.first_at, excluded.first_at),
      last_at  = greatest(real_user_activity.last_at, excluded.last_at)
    WHERE excluded.first_at < real_user_activity.first_at OR excluded.last_at > real_user_activity.last_at
    RETURNING user_id
  ),
  by_day AS (
    INSERT INTO daily_real_activity (day, user_id, last_at)
    SELECT (occurred_at AT TIME ZONE 'UTC')::date, user_id, max(occurred_at) FROM real GROUP BY 1, 2 ORDER BY 1, 2
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
    FROM interactions x WHERE ins.event_id IS NULL AND x.event_id = i.event_id LIMIT 1
  ) e ON true
  LEFT JOIN LATERAL (
    SELECT p.marked_internal, p.email_domains FROM users p WHERE p.user_id = coalesce(e.user_id, f.user_id) LIMIT 1
  ) u ON true
  ORDER BY i.ordinal;
END
$record$;

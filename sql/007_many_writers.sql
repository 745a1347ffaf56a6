-- Many writers at once (Aurora runs one Lambda per request), and a response that stays small whoever the user is.
--
-- 1. The counters (real_user_count, daily_real_totals, real_user_type_counts) were single rows every batch with a
--    new user or a new day updated, in several passes per statement (one per trigger, one per backdated user), so
--    concurrent writers queued on them until commit and, when two passes crossed, deadlocked. Each counter is now
--    kept in shards: a writer leases one shard for its transaction (the lowest one nobody holds, an advisory lock
--    taken before any row lock) and writes only there, so no two writers ever touch the same counter row, whatever
--    the order. Reads add the shards up: a handful of rows per counter.
-- 2. users.email_domains grew without bound and every recorded row returned it. The domains stay in
--    user_email_domains (one small row each, which is what reads already use), and recording says, per row,
--    whether the user was already known to be internal, found by index probes for the configured domains.

-- No write may slip in while the tables change shape. Same order as the recording statement takes them.
LOCK TABLE interactions, users, user_email_domains, real_users, real_user_count, real_user_activity, daily_real_activity,
  daily_real_totals, real_user_type_counts IN ACCESS EXCLUSIVE MODE;

DROP FUNCTION record_interactions(jsonb);

-- user_email_domains has always been written beside users.email_domains; make sure it holds every domain before the column goes.
INSERT INTO user_email_domains (email_domain, user_id)
SELECT DISTINCT d.domain, u.user_id FROM users u CROSS JOIN LATERAL unnest(u.email_domains) AS d(domain)
ON CONFLICT DO NOTHING;

ALTER TABLE users DROP COLUMN email_domains;

-- What existed becomes shard 0.
ALTER TABLE real_user_count ADD COLUMN shard smallint NOT NULL DEFAULT 0;
ALTER TABLE real_user_count DROP COLUMN singleton;
ALTER TABLE real_user_count ADD PRIMARY KEY (shard);

ALTER TABLE daily_real_totals ADD COLUMN shard smallint NOT NULL DEFAULT 0;
ALTER TABLE daily_real_totals DROP CONSTRAINT daily_real_totals_pkey;
ALTER TABLE daily_real_totals ADD PRIMARY KEY (day, shard);

ALTER TABLE real_user_type_counts ADD COLUMN shard smallint NOT NULL DEFAULT 0;
ALTER TABLE real_user_type_counts DROP CONSTRAINT real_user_type_counts_pkey;
ALTER TABLE real_user_type_counts ADD PRIMARY KEY (interaction_type, shard);

-- The counter shard this transaction writes: the lowest of 16 that no other transaction holds, leased until commit
-- with a transaction-scoped advisory lock. Taken once, remembered for the transaction (set_config ..., true).
-- Only when all 16 are busy does a writer wait, for one shard, before it holds any row: never a deadlock.
CREATE FUNCTION counter_shard() RETURNS smallint LANGUAGE plpgsql AS $$
DECLARE
  leased smallint := nullif(current_setting('days_since.counter_shard', true), '')::smallint;
BEGIN
  IF leased IS NOT NULL THEN
    RETURN leased;
  END IF;
  FOR candidate IN 0..15 LOOP
    IF pg_try_advisory_xact_lock(1684632435, candidate) THEN
      leased := candidate;
      EXIT;
    END IF;
  END LOOP;
  IF leased IS NULL THEN
    leased := floor(random() * 16)::smallint;
    PERFORM pg_advisory_xact_lock(1684632435, leased);
  END IF;
  PERFORM set_config('days_since.counter_shard', leased::text, true);
  RETURN leased;
END
$$;

-- The triggers of sql/004, each now adding its (possibly negative) deltas to this transaction's shard.
CREATE OR REPLACE FUNCTION daily_real_totals_add_active() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  mine smallint := counter_shard();
BEGIN
  INSERT INTO daily_real_totals (day, shard, active_users)
  SELECT day, mine, count(*) FROM added GROUP BY day
  ON CONFLICT (day, shard) DO UPDATE SET active_users = daily_real_totals.active_users + excluded.active_users;
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION daily_real_totals_remove_active() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  mine smallint := counter_shard();
BEGIN
  INSERT INTO daily_real_totals (day, shard, active_users)
  SELECT day, mine, -count(*) FROM removed GROUP BY day
  ON CONFLICT (day, shard) DO UPDATE SET active_users = daily_real_totals.active_users + excluded.active_users;
  RETURN NULL;
END
$$;

-- New real users, per day of their first real interaction and in all.
CREATE OR REPLACE FUNCTION daily_real_totals_add_new() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  mine smallint := counter_shard();
BEGIN
  INSERT INTO daily_real_totals (day, shard, new_users)
  SELECT (first_real_at AT TIME ZONE 'UTC')::date, mine, count(*) FROM added GROUP BY 1
  ON CONFLICT (day, shard) DO UPDATE SET new_users = daily_real_totals.new_users + excluded.new_users;
  INSERT INTO real_user_count (shard, users)
  SELECT mine, count(*) FROM added
  ON CONFLICT (shard) DO UPDATE SET users = real_user_count.users + excluded.users;
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION daily_real_totals_move_new() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  mine smallint := counter_shard();
BEGIN
  INSERT INTO daily_real_totals (day, shard, new_users)
  VALUES ((NEW.first_real_at AT TIME ZONE 'UTC')::date, mine, 1), ((OLD.first_real_at AT TIME ZONE 'UTC')::date, mine, -1)
  ON CONFLICT (day, shard) DO UPDATE SET new_users = daily_real_totals.new_users + excluded.new_users;
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION daily_real_totals_remove_new() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  mine smallint := counter_shard();
BEGIN
  INSERT INTO daily_real_totals (day, shard, new_users)
  SELECT (first_real_at AT TIME ZONE 'UTC')::date, mine, -count(*) FROM removed GROUP BY 1
  ON CONFLICT (day, shard) DO UPDATE SET new_users = daily_real_totals.new_users + excluded.new_users;
  INSERT INTO real_user_count (shard, users)
  SELECT mine, -count(*) FROM removed
  ON CONFLICT (shard) DO UPDATE SET users = real_user_count.users + excluded.users;
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION real_user_type_counts_add() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  mine smallint := counter_shard();
BEGIN
  INSERT INTO real_user_type_counts (interaction_type, shard, users)
  SELECT interaction_type, mine, count(*) FROM added GROUP BY interaction_type
  ON CONFLICT (interaction_type, shard) DO UPDATE SET users = real_user_type_counts.users + excluded.users;
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION real_user_type_counts_remove() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  mine smallint := counter_shard();
BEGIN
  INSERT INTO real_user_type_counts (interaction_type, shard, users)
  SELECT interaction_type, mine, -count(*) FROM removed GROUP BY interaction_type
  ON CONFLICT (interaction_type, shard) DO UPDATE SET users = real_user_type_counts.users + excluded.users;
  RETURN NULL;
END
$$;

-- Recording, as in sql/005, with three changes. The counter shard is leased first. Instead of the user's every
-- email domain, each row says whether the user was already known to be internal (marked, or with one of the
-- configured internal_email_domains, a JSON array). And a rollup row that already covers what the batch brings
-- (as this statement's snapshot sees it) is left alone rather than upserted: ON CONFLICT DO UPDATE locks the row
-- even when its WHERE says there is nothing to change, and those locks made writers with users in common wait
-- for each other's commits. Skipping is safe because rollups only widen (first earlier, last later, internal
-- once true): what covered a batch in the snapshot still covers it now. Row locks are taken table by table in
-- one order (interactions, users, user_email_domains, real_users, real_user_activity, daily_real_activity), each
-- table in key order; the counters come last, in the leased shard only.
CREATE FUNCTION record_interactions(batch jsonb, internal_email_domains jsonb)
RETURNS TABLE (
    ordinal          bigint,
    recorded         boolean,
    user_id          uuid,
    exclusion_reason text,
    marked_internal  boolean,
    email_domain     text,
    prior_internal   boolean
)
LANGUAGE plpgsql AS $record$
#variable_conflict use_column
BEGIN
  PERFORM counter_shard();
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
    INSERT INTO users (user_id, first_seen_at, marked_internal)
    SELECT g.user_id, g.first_seen_at, g.marked_internal
    FROM (SELECT user_id, min(occurred_at) AS first_seen_at, bool_or(marked_internal) AS marked_internal FROM inserted GROUP BY user_id) g
    LEFT JOIN LATERAL (
      SELECT true AS covered FROM users p
      WHERE p.user_id = g.user_id AND p.first_seen_at <= g.first_seen_at AND (p.marked_internal OR NOT g.marked_internal) LIMIT 1
    ) known ON true
    WHERE known.covered IS NULL
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
    RETURNING user_id
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
    RETURNING user_id
  ),
  by_day AS (
    INSERT INTO daily_real_activity (day, user_id, last_at)
    SELECT g.day, g.user_id, g.last_at
    FROM (SELECT (occurred_at AT TIME ZONE 'UTC')::date AS day, user_id, max(occurred_at) AS last_at FROM real GROUP BY 1, 2) g
    LEFT JOIN LATERAL (
      SELECT true AS covered FROM daily_real_activity a WHERE a.day = g.day AND a.user_id = g.user_id AND a.last_at >= g.last_at LIMIT 1
    ) known ON true
    WHERE known.covered IS NULL
    ORDER BY g.day, g.user_id
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
    u.internal                                    AS prior_internal
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
  -- One primary-key probe of user_email_domains per configured domain: a user's thousand domains are never read.
  LEFT JOIN LATERAL (
    SELECT p.marked_internal OR EXISTS (
      SELECT 1 FROM jsonb_array_elements_text(record_interactions.internal_email_domains) AS d(domain)
      CROSS JOIN LATERAL (
        SELECT 1 FROM user_email_domains k WHERE k.email_domain = d.domain AND k.user_id = p.user_id LIMIT 1
      ) hit
    ) AS internal
    FROM users p WHERE p.user_id = coalesce(e.user_id, f.user_id) LIMIT 1
  ) u ON true
  ORDER BY i.ordinal;
END
$record$;

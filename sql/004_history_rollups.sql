-- What the history and the milestones read. Kept exact by statement-level triggers on the rollups that the single insert
-- statement in functions/db/interactions.ts already maintains: same statement, same transaction, no change there.

-- No write may slip between the backfill below and the triggers that take over from it.
LOCK TABLE daily_real_activity, real_users, real_user_activity IN SHARE ROW EXCLUSIVE MODE;

-- Per UTC day: real users active that day and real users whose first real interaction was that day.
-- Internal users are included and subtracted when read, so marking a user internal later still removes them.
-- The 90-day history reads 90 rows here instead of counting every user of every day.
CREATE TABLE daily_real_totals (
    day          date   PRIMARY KEY,
    active_users bigint NOT NULL DEFAULT 0,
    new_users    bigint NOT NULL DEFAULT 0
);

-- Per interaction type: how many users ever did it for real ("paying users" is the payment row),
-- so the milestones read one row instead of counting them; internal users are subtracted when read.
CREATE TABLE real_user_type_counts (
    interaction_type text   PRIMARY KEY,
    users            bigint NOT NULL DEFAULT 0
);

-- The last real interaction of a day (and before a window) without reading the whole day.
CREATE INDEX daily_real_activity_day_last_at ON daily_real_activity (day, last_at);
-- An internal user's days, to subtract them from daily_real_totals.
CREATE INDEX daily_real_activity_user_day ON daily_real_activity (user_id, day);

-- Each function runs once per statement over its transition table, and upserts in day order so that
-- concurrent writers lock the same days in the same order.
CREATE FUNCTION daily_real_totals_add_active() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO daily_real_totals (day, active_users)
  SELECT day, count(*) FROM added GROUP BY day ORDER BY day
  ON CONFLICT (day) DO UPDATE SET active_users = daily_real_totals.active_users + excluded.active_users;
  RETURN NULL;
END
$$;

CREATE FUNCTION daily_real_totals_remove_active() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE daily_real_totals t SET active_users = t.active_users - r.users
  FROM (SELECT day, count(*) AS users FROM removed GROUP BY day) r
  WHERE t.day = r.day;
  RETURN NULL;
END
$$;

CREATE FUNCTION daily_real_totals_add_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO daily_real_totals (day, new_users)
  SELECT (first_real_at AT TIME ZONE 'UTC')::date, count(*) FROM added GROUP BY 1 ORDER BY 1
  ON CONFLICT (day) DO UPDATE SET new_users = daily_real_totals.new_users + excluded.new_users;
  RETURN NULL;
END
$$;

-- A backdated interaction can move a user's first real interaction to an earlier day: the new user moves with it.
-- Row-level with a WHEN clause, so the many updates that only move last_real_at never call it.
CREATE FUNCTION daily_real_totals_move_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO daily_real_totals (day, new_users)
  SELECT day, users FROM (VALUES
    ((NEW.first_real_at AT TIME ZONE 'UTC')::date, 1),
    ((OLD.first_real_at AT TIME ZONE 'UTC')::date, -1)
  ) AS moved(day, users)
  ORDER BY day
  ON CONFLICT (day) DO UPDATE SET new_users = daily_real_totals.new_users + excluded.new_users;
  RETURN NULL;
END
$$;

CREATE FUNCTION daily_real_totals_remove_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE daily_real_totals t SET new_users = t.new_users - r.users
  FROM (SELECT (first_real_at AT TIME ZONE 'UTC')::date AS day, count(*) AS users FROM removed GROUP BY 1) r
  WHERE t.day = r.day;
  RETURN NULL;
END
$$;

CREATE FUNCTION real_user_type_counts_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO real_user_type_counts (interaction_type, users)
  SELECT interaction_type, count(*) FROM added GROUP BY interaction_type ORDER BY interaction_type
  ON CONFLICT (interaction_type) DO UPDATE SET users = real_user_type_counts.users + excluded.users;
  RETURN NULL;
END
$$;

CREATE FUNCTION real_user_type_counts_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE real_user_type_counts c SET users = c.users - r.users
  FROM (SELECT interaction_type, count(*) AS users FROM removed GROUP BY interaction_type) r
  WHERE c.interaction_type = r.interaction_type;
  RETURN NULL;
END
$$;

CREATE TRIGGER real_user_type_counts_added AFTER INSERT ON real_user_activity
  REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION real_user_type_counts_add();
CREATE TRIGGER real_user_type_counts_removed AFTER DELETE ON real_user_activity
  REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION real_user_type_counts_remove();
CREATE TRIGGER daily_real_totals_active_added AFTER INSERT ON daily_real_activity
  REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION daily_real_totals_add_active();
CREATE TRIGGER daily_real_totals_active_removed AFTER DELETE ON daily_real_activity
  REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION daily_real_totals_remove_active();
CREATE TRIGGER daily_real_totals_new_added AFTER INSERT ON real_users
  REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION daily_real_totals_add_new();
CREATE TRIGGER daily_real_totals_new_moved AFTER UPDATE OF first_real_at ON real_users FOR EACH ROW
  WHEN ((OLD.first_real_at AT TIME ZONE 'UTC')::date <> (NEW.first_real_at AT TIME ZONE 'UTC')::date)
  EXECUTE FUNCTION daily_real_totals_move_new();
CREATE TRIGGER daily_real_totals_new_removed AFTER DELETE ON real_users
  REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION daily_real_totals_remove_new();

-- What was recorded before this migration.
INSERT INTO daily_real_totals (day, active_users)
SELECT day, count(*) FROM daily_real_activity GROUP BY day;

INSERT INTO daily_real_totals (day, new_users)
SELECT (first_real_at AT TIME ZONE 'UTC')::date, count(*) FROM real_users GROUP BY 1
ON CONFLICT (day) DO UPDATE SET new_users = excluded.new_users;

INSERT INTO real_user_type_counts (interaction_type, users)
SELECT interaction_type, count(*) FROM real_user_activity GROUP BY interaction_type;

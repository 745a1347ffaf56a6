-- A backdated interaction can move a user's first real interaction to an earlier day: the new user moves with it.
-- Row-level with a WHEN clause, so the many updates that only move last_real_at never call it.
CREATE FUNCTION daily_real_totals_move_new() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  mine smallint := counter_shard();
BEGIN
  INSERT INTO daily_real_totals (day, shard, new_users)
  VALUES ((NEW.first_real_at AT TIME ZONE 'UTC')::date, mine, 1), ((OLD.first_real_at AT TIME ZONE 'UTC')::date, mine, -1)
  ON CONFLICT (day, shard) DO UPDATE SET new_users = daily_real_totals.new_users + excluded.new_users;
  RETURN NULL;
END
$$;

CREATE TRIGGER daily_real_totals_new_moved AFTER UPDATE OF first_real_at ON real_users FOR EACH ROW
  WHEN ((OLD.first_real_at AT TIME ZONE 'UTC')::date <> (NEW.first_real_at AT TIME ZONE 'UTC')::date)
  EXECUTE FUNCTION daily_real_totals_move_new();

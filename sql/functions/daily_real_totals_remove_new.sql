-- Rows deleted from real_users (by an operator, never by the service) leave the new users of their first day and
-- the count of real users.
-- Once per statement over its transition table, adding negative deltas to this transaction's counter shard.
CREATE FUNCTION daily_real_totals_remove_new() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE TRIGGER daily_real_totals_new_removed AFTER DELETE ON real_users
  REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION daily_real_totals_remove_new();

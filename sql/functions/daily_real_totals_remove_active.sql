-- Rows deleted from daily_real_activity (the service never deletes; an operator cleaning up may) leave their day's
-- active users. The recording statement counts what it adds; a delete is counted here.
-- Once per statement over its transition table, adding a negative delta to this transaction's counter shard.
CREATE FUNCTION daily_real_totals_remove_active() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  mine smallint := counter_shard();
BEGIN
  INSERT INTO daily_real_totals (day, shard, active_users)
  SELECT day, mine, -count(*) FROM removed GROUP BY day
  ON CONFLICT (day, shard) DO UPDATE SET active_users = daily_real_totals.active_users + excluded.active_users;
  RETURN NULL;
END
$$;

CREATE TRIGGER daily_real_totals_active_removed AFTER DELETE ON daily_real_activity
  REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION daily_real_totals_remove_active();

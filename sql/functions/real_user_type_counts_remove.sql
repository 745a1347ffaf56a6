-- Rows deleted from real_user_activity (by an operator, never by the service) leave their type's count of users.
-- Once per statement over its transition table, adding a negative delta to this transaction's counter shard.
CREATE FUNCTION real_user_type_counts_remove() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  mine smallint := counter_shard();
BEGIN
  INSERT INTO real_user_type_counts (interaction_type, shard, users)
  SELECT interaction_type, mine, -count(*) FROM removed GROUP BY interaction_type
  ON CONFLICT (interaction_type, shard) DO UPDATE SET users = real_user_type_counts.users + excluded.users;
  RETURN NULL;
END
$$;

CREATE TRIGGER real_user_type_counts_removed AFTER DELETE ON real_user_activity
  REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION real_user_type_counts_remove();

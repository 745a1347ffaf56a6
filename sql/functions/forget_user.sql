-- Forgets a user (DELETE /users): their interactions, what was known of them, and their share of every rollup and
-- counter, in one statement. The rollups' delete triggers take the user out of the counters (the new users of their
-- first day, the active users of each of their days, the users of each type, the count of real users), in this
-- transaction's counter shard, so every read afterwards equals a recount of what is left.
--
-- The table lock (SHARE ROW EXCLUSIVE conflicts with every writer's ROW EXCLUSIVE, not with reads) waits for the
-- recordings already running and holds new ones back until this commits: a recording of this user committing between
-- the deletes below would leave an interaction whose rollups are gone. Rows are then deleted in the writers' order.
-- Returns how many interactions were deleted; 0 when the user was never seen (or is already forgotten).
CREATE FUNCTION forget_user(forgotten text) RETURNS bigint LANGUAGE plpgsql AS $forget$
DECLARE
  removed bigint;
BEGIN
  LOCK TABLE interactions IN SHARE ROW EXCLUSIVE MODE;
  WITH gone AS (
    DELETE FROM interactions WHERE user_id = forgotten RETURNING email_domain
  ),
  known AS (
    DELETE FROM users WHERE user_id = forgotten
  ),
  -- A user's domains are those of their interactions (user_email_domains has no index by user): each by primary key.
  domains AS (
    DELETE FROM user_email_domains k USING (SELECT DISTINCT email_domain FROM gone WHERE email_domain IS NOT NULL) g
    WHERE k.email_domain = g.email_domain AND k.user_id = forgotten
  )
  SELECT count(*) INTO removed FROM gone;
  DELETE FROM real_users WHERE user_id = forgotten;
  DELETE FROM real_user_activity WHERE user_id = forgotten;
  DELETE FROM daily_real_activity WHERE user_id = forgotten;
  RETURN removed;
END
$forget$;

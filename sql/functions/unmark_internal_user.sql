-- Takes back `context.internal: true` for a user (DELETE /internal-users): their interactions no longer carry the mark,
-- and neither does the user. Internal users are decided when the metric is read, and the rollups keep internal users'
-- real activity, so every read follows at once. INTERNAL_USER_IDS and INTERNAL_EMAIL_DOMAINS still decide as configured.
-- Under the same table lock as forget_user: a recording that marks the user again either commits before this starts
-- (and is unmarked with the rest) or waits and marks them after; never half of each, which would leave users disagreeing
-- with a recount of interactions.
-- One row: whether the user was ever seen, and how many of their interactions carried the mark.
CREATE FUNCTION unmark_internal_user(unmarked text) RETURNS TABLE (user_known boolean, unmarked_interactions bigint) LANGUAGE plpgsql AS $unmark$
DECLARE
  cleared bigint;
BEGIN
  LOCK TABLE interactions IN SHARE ROW EXCLUSIVE MODE;
  UPDATE interactions SET marked_internal = false WHERE user_id = unmarked AND marked_internal;
  GET DIAGNOSTICS cleared = ROW_COUNT;
  UPDATE users SET marked_internal = false WHERE user_id = unmarked AND marked_internal;
  RETURN QUERY SELECT EXISTS (SELECT 1 FROM users WHERE user_id = unmarked), cleared;
END
$unmark$;

-- During a deploy, the migration runs before the Lambdas get the code that calls record_interactions(batch,
-- internal_email_domains): for that minute, the handlers still running call the one-argument form that 007 dropped.
-- This keeps that form answering, in its old shape, so ingest does not fail while the deploy finishes. The old code
-- learns whether a user was already internal, not their domains (verdicts only; the number is decided when read).
-- Drop it in a later migration once every deployment runs code newer than 007.
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
LANGUAGE sql AS $compat$
  SELECT r.ordinal, r.recorded, r.user_id, r.exclusion_reason, r.marked_internal, r.email_domain, r.prior_internal,
         CASE WHEN r.prior_internal IS NULL THEN NULL ELSE '[]'::jsonb END
  FROM record_interactions(batch, '[]'::jsonb) AS r
$compat$;

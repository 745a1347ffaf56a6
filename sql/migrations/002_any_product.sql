-- Any product's own ids and names (issue 20): a user id is the product's own text (1 to 128 characters), an interaction
-- type any name it uses, an internal email domain covers its subdomains, and no IP is kept unless STORE_IP says so.
-- The writers' tables, locked in the writers' order: nothing records while the columns change.
LOCK TABLE interactions, users, user_email_domains, real_users, real_user_activity, daily_real_activity IN ACCESS EXCLUSIVE MODE;

-- User ids compare byte by byte ("C"): keyset reads walk the same order on every engine, whatever the database's locale.
-- A uuid becomes its canonical lower-case text, which is what ingest still stores for a UUID-shaped id.
-- The IPs 0.1.0 kept whole go in the same rewrite: nothing ever read them, and no IP is kept now unless STORE_IP asks.
ALTER TABLE interactions
  ALTER COLUMN user_id TYPE text COLLATE "C" USING user_id::text,
  ALTER COLUMN ip TYPE text USING NULL::text,
  DROP CONSTRAINT interactions_interaction_type_check,
  ADD CONSTRAINT interactions_interaction_type_check CHECK (interaction_type ~ '^[a-z0-9_.:-]{1,50}$');

-- What the summary lists for types that do not count (a page view): the types and each one's last interaction, walked
-- down this index, never counted over the whole history.
CREATE INDEX interactions_not_engagement_type ON interactions (interaction_type, occurred_at DESC)
  WHERE exclusion_reason = 'not_engagement';

ALTER TABLE users ALTER COLUMN user_id TYPE text COLLATE "C" USING user_id::text;

-- Domains compare byte by byte too, so the reversed domain orders a domain's subdomains together: "mail.internal.test"
-- reversed starts with "tset.lanretni.", and one range of this index finds every user under "internal.test".
ALTER TABLE user_email_domains
  ALTER COLUMN user_id TYPE text COLLATE "C" USING user_id::text,
  ALTER COLUMN email_domain TYPE text COLLATE "C";
CREATE INDEX user_email_domains_reversed ON user_email_domains (reverse(email_domain), user_id);

ALTER TABLE real_users ALTER COLUMN user_id TYPE text COLLATE "C" USING user_id::text;
ALTER TABLE real_user_activity ALTER COLUMN user_id TYPE text COLLATE "C" USING user_id::text;
ALTER TABLE daily_real_activity ALTER COLUMN user_id TYPE text COLLATE "C" USING user_id::text;

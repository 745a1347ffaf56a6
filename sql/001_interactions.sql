-- Every accepted interaction, kept forever, with the reason it does not count (NULL: it may count).
-- internal_user is not stored here: it is decided when the metric is read, from what is known of the user then.
CREATE TABLE interactions (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id         text        NOT NULL,
    user_id          uuid        NOT NULL,
    interaction_type text        NOT NULL CHECK (interaction_type IN
                         ('signup', 'login', 'coach_call', 'agent_run', 'decision', 'export', 'feedback', 'payment', 'page_view')),
    occurred_at      timestamptz NOT NULL,
    received_at      timestamptz NOT NULL DEFAULT now(),
    exclusion_reason text        CHECK (exclusion_reason IN ('test_traffic', 'automated_client', 'not_engagement')),
    marked_internal  boolean     NOT NULL DEFAULT false,
    email_domain     text,
    user_agent       text,
    ip               text,
    metadata         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    -- A client's event_id is unique forever: a retried report never counts twice.
    CONSTRAINT interactions_event_id_key UNIQUE (event_id)
);

CREATE INDEX interactions_user_occurred ON interactions (user_id, occurred_at DESC);
-- The last excluded interaction and the exclusion counts read this, never the whole history.
CREATE INDEX interactions_excluded_occurred ON interactions (occurred_at DESC) WHERE exclusion_reason IS NOT NULL;

-- What is known of each user who ever reported anything: the facts that make them internal.
CREATE TABLE users (
    user_id         uuid        PRIMARY KEY,
    first_seen_at   timestamptz NOT NULL,
    marked_internal boolean     NOT NULL DEFAULT false,
    email_domains   text[]      NOT NULL DEFAULT '{}'
);

CREATE INDEX users_marked_internal ON users (user_id) WHERE marked_internal;

-- The same domains, one row each: INTERNAL_EMAIL_DOMAINS is known only when the metric is read, and a b-tree
-- lookup per configured domain finds its users where any set-based form was planned as a scan of all users.
CREATE TABLE user_email_domains (
    email_domain text NOT NULL,
    user_id      uuid NOT NULL,
    PRIMARY KEY (email_domain, user_id)
);

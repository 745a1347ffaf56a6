-- The tables and indexes of days-since as version 0.1.0 left them (its sql/001 to sql/010, squashed before the first
-- release). The functions and triggers that write them are in sql/functions, one file each.
-- Tables are created in the order writers lock them (interactions first, the rollups, the counters last): the migrator
-- drops triggers in table creation order, so its locks follow the writers' order too (functions/db/migrate.ts).

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
    marked_internal boolean     NOT NULL DEFAULT false
);

CREATE INDEX users_marked_internal ON users (user_id) WHERE marked_internal;

-- Each user's email domains, one row each: INTERNAL_EMAIL_DOMAINS is known only when the metric is read, and a b-tree
-- lookup per configured domain finds its users where any set-based form was planned as a scan of all users.
CREATE TABLE user_email_domains (
    email_domain text NOT NULL,
    user_id      uuid NOT NULL,
    PRIMARY KEY (email_domain, user_id)
);

-- Small rollups of the interactions that may count (no stored exclusion reason), maintained by the same
-- statement that inserts the interaction, so that reads never scan history. Internal users are filtered
-- out when these are read.

-- One row per user with real activity: the headline number and DAU/WAU/MAU read its last_real_at index.
CREATE TABLE real_users (
    user_id       uuid        PRIMARY KEY,
    first_real_at timestamptz NOT NULL,
    last_real_at  timestamptz NOT NULL
);
CREATE INDEX real_users_last_real_at ON real_users (last_real_at DESC);
CREATE INDEX real_users_first_real_at ON real_users (first_real_at);

-- How many rows real_users holds, so total_users is a handful of rows, not a count. Like every counter below, it is
-- kept in shards: a writer adds only to the shard it leased for its transaction (sql/functions/counter_shard.sql),
-- so concurrent writers never update the same counter row. Reads add the shards up.
CREATE TABLE real_user_count (
    users bigint   NOT NULL DEFAULT 0,
    shard smallint NOT NULL DEFAULT 0 PRIMARY KEY
);
INSERT INTO real_user_count (users, shard) VALUES (0, 0);

-- Per user and type: "days since the last coach call" and "paying users" come from here.
CREATE TABLE real_user_activity (
    user_id          uuid        NOT NULL,
    interaction_type text        NOT NULL,
    first_at         timestamptz NOT NULL,
    last_at          timestamptz NOT NULL,
    PRIMARY KEY (user_id, interaction_type)
);
CREATE INDEX real_user_activity_type_last ON real_user_activity (interaction_type, last_at DESC);
-- The n-th paying user is n steps down this index (functions/db/milestones.ts); the other types never write to it.
CREATE INDEX real_user_activity_payment_first ON real_user_activity (first_at) WHERE interaction_type = 'payment';

-- Per UTC day and user: daily active users and the end-of-day history.
CREATE TABLE daily_real_activity (
    day     date        NOT NULL,
    user_id uuid        NOT NULL,
    last_at timestamptz NOT NULL,
    PRIMARY KEY (day, user_id)
);
-- The last real interaction of a day (and before a window) without reading the whole day.
CREATE INDEX daily_real_activity_day_last_at ON daily_real_activity (day, last_at);
-- An internal user's days, to subtract them from daily_real_totals.
CREATE INDEX daily_real_activity_user_day ON daily_real_activity (user_id, day);

-- Per UTC day (in shards): real users active that day and real users whose first real interaction was that day.
-- Internal users are included and subtracted when read, so marking a user internal later still removes them.
-- The 90-day history reads 90 days' rows here instead of counting every user of every day.
CREATE TABLE daily_real_totals (
    day          date     NOT NULL,
    active_users bigint   NOT NULL DEFAULT 0,
    new_users    bigint   NOT NULL DEFAULT 0,
    shard        smallint NOT NULL DEFAULT 0,
    PRIMARY KEY (day, shard)
);

-- Per interaction type (in shards): how many users ever did it for real ("paying users" is the payment row),
-- so the milestones read a few rows instead of counting them; internal users are subtracted when read.
CREATE TABLE real_user_type_counts (
    interaction_type text     NOT NULL,
    users            bigint   NOT NULL DEFAULT 0,
    shard            smallint NOT NULL DEFAULT 0,
    PRIMARY KEY (interaction_type, shard)
);

-- What Slack was told about the number, in order: the last row is the state the next change is compared
-- with (in AWS and locally alike), and the Friday check-in lists the rows since the previous check-in.
CREATE TABLE alert_announcements (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    state        text             NOT NULL CHECK (state IN ('no_users_yet', 'healthy', 'warning', 'critical', 'stale')),
    announced_at timestamptz      NOT NULL,
    -- The number at that moment; NULL when it could not be read (a stale pipeline).
    days         double precision,
    -- false: noted silently (the first look at a quiet number), or Slack was not connected.
    posted       boolean          NOT NULL,
    -- Who noticed: an alarm (by name) in AWS, or the local loop.
    source       text             NOT NULL
);
CREATE INDEX alert_announcements_announced_at ON alert_announcements (announced_at DESC, id DESC);

-- One row per Friday 09:00 SAST: what that check-in reported, so the next one can say what changed.
-- The row is claimed before posting and marked posted after, so a retried run never posts twice: a run holds the
-- claim for a short lease while it posts (EventBridge Scheduler delivers at least once); a run that fails gives it
-- back, and one that died mid-post loses it when it lapses, and the retry takes over.
CREATE TABLE weekly_check_ins (
    slot             timestamptz      PRIMARY KEY,
    days             double precision NOT NULL,
    status           text             NOT NULL CHECK (status IN ('active', 'warning', 'critical')),
    dau              integer          NOT NULL,
    wau              integer          NOT NULL,
    mau              integer          NOT NULL,
    total_real_users integer          NOT NULL,
    new_real_users   integer          NOT NULL,
    posted_at        timestamptz,
    claimed_at       timestamptz
);

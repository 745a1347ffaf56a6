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

-- How many rows real_users holds, kept beside it so total_users is one row, not a count.
CREATE TABLE real_user_count (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    users     bigint  NOT NULL DEFAULT 0
);
INSERT INTO real_user_count (singleton, users) VALUES (true, 0);

-- Per user and type: "days since the last coach call" and "paying users" come from here.
CREATE TABLE real_user_activity (
    user_id          uuid        NOT NULL,
    interaction_type text        NOT NULL,
    first_at         timestamptz NOT NULL,
    last_at          timestamptz NOT NULL,
    PRIMARY KEY (user_id, interaction_type)
);
CREATE INDEX real_user_activity_type_last ON real_user_activity (interaction_type, last_at DESC);
CREATE INDEX real_user_activity_type_first ON real_user_activity (interaction_type, first_at);

-- Per UTC day and user: daily active users and the end-of-day history.
CREATE TABLE daily_real_activity (
    day     date        NOT NULL,
    user_id uuid        NOT NULL,
    last_at timestamptz NOT NULL,
    PRIMARY KEY (day, user_id)
);

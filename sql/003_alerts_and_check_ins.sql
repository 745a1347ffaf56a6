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
-- The row is claimed before posting and marked posted after, so a retried run never posts twice.
CREATE TABLE weekly_check_ins (
    slot             timestamptz      PRIMARY KEY,
    days             double precision NOT NULL,
    status           text             NOT NULL CHECK (status IN ('active', 'warning', 'critical')),
    dau              integer          NOT NULL,
    wau              integer          NOT NULL,
    mau              integer          NOT NULL,
    total_real_users integer          NOT NULL,
    new_real_users   integer          NOT NULL,
    posted_at        timestamptz
);

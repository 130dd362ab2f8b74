-- Adaptive scheduling state, feed moves and robots.txt cache.

ALTER TABLE feeds ADD COLUMN interval_minutes INTEGER;       -- current adaptive interval
ALTER TABLE feeds ADD COLUMN new_per_hour DOUBLE;            -- EWMA of new entries per hour
ALTER TABLE feeds ADD COLUMN last_new_entries INTEGER;       -- new entries at the last poll
ALTER TABLE feeds ADD COLUMN disabled_at TIMESTAMPTZ;
ALTER TABLE feeds ADD COLUMN failure_kind VARCHAR;           -- transient | permanent

-- Every permanent redirect (301/308) that moved a feed: feeds.url follows it.
CREATE TABLE feed_url_history (
    feed_id    VARCHAR NOT NULL,
    old_url    VARCHAR NOT NULL,
    new_url    VARCHAR NOT NULL,
    status     INTEGER,
    changed_at TIMESTAMPTZ NOT NULL,
    run_id     VARCHAR
);

-- robots.txt per host (scheme://host:port), with its own expiry.
CREATE TABLE robots (
    origin      VARCHAR PRIMARY KEY,
    fetched_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    status      INTEGER,
    outcome     VARCHAR NOT NULL,     -- ok | missing (4xx: allow all) | error (5xx/unreachable: disallow all)
    body        VARCHAR
);

-- Completeness alerts: one row per condition while it holds (closed_at NULL),
-- closed when it clears; a condition that comes back opens a new row.
-- kind: silent_source | empty_feed | fallback_jump | error_jump | wire_share_shift
CREATE TABLE alerts (
    alert_id    VARCHAR PRIMARY KEY,
    kind        VARCHAR NOT NULL,
    subject     VARCHAR NOT NULL,          -- the source id, or the feed id
    source_id   VARCHAR,
    feed_id     VARCHAR,
    opened_at   TIMESTAMPTZ NOT NULL,
    checked_at  TIMESTAMPTZ NOT NULL,
    closed_at   TIMESTAMPTZ,
    evidence    JSON                        -- the figures the rule compared
);

-- Nothing lost in ordinary operation: links waiting for a page, body states,
-- revisions of every field, run heartbeats, the registry the warehouse was
-- synced with.

-- Links whose page has not been fetched yet: never requested because their
-- origin's turn came after the run's page budget ('queued'), or failed for a
-- reason that may pass ('retry': a timeout, 5xx, 429, a reset). One row per
-- link and the feed (or backfill input) that listed it; the next runs fetch
-- them first. The listing as the feed gave it is kept, so the article can be
-- made from it when the page arrives.
CREATE TABLE pending_pages (
    url             VARCHAR NOT NULL,      -- canonical form of the link
    feed_id         VARCHAR NOT NULL,
    source_id       VARCHAR NOT NULL,
    kind            VARCHAR NOT NULL,      -- queued | retry
    link            VARCHAR,               -- the link as the feed gave it
    guid            VARCHAR,
    title           VARCHAR,
    summary         VARCHAR,
    content         VARCHAR,
    author          VARCHAR,
    published_at    TIMESTAMPTZ,
    updated_at      TIMESTAMPTZ,
    language        VARCHAR,
    via             VARCHAR NOT NULL DEFAULT 'feed',
    first_seen_at   TIMESTAMPTZ NOT NULL,  -- when the link was first held back
    attempts        INTEGER NOT NULL DEFAULT 0,  -- requests that failed transiently
    next_attempt_at TIMESTAMPTZ NOT NULL,
    last_reason     VARCHAR,
    last_run_id     VARCHAR,
    PRIMARY KEY (url, feed_id)
);

-- Where an article's body came from (ingest.records.BodyStatus):
--   page         the page's own text
--   provisional  the feed's text, while the page is retried (pending_pages)
--   feed-final   the feed's text for good: the page is gone, refused, not an
--                article, or kept failing for longer than the retry window
ALTER TABLE articles ADD COLUMN body_status VARCHAR;
ALTER TABLE articles ADD COLUMN body_reason VARCHAR;  -- why the body is not the page's
UPDATE articles SET body_status = CASE WHEN extractor LIKE 'feed-%' THEN 'feed-final'
                                       ELSE 'page' END;

-- Every field a revision changed: field -> (old, new), as text. The older
-- columns (old_title, new_title, old/new_content_hash, old_body) stay.
ALTER TABLE article_revisions ADD COLUMN fields MAP(VARCHAR, STRUCT(old VARCHAR, new VARCHAR));

-- A running run proves it is alive; one silent for long is 'abandoned'.
ALTER TABLE runs ADD COLUMN heartbeat_at TIMESTAMPTZ;
ALTER TABLE runs ADD COLUMN host VARCHAR;    -- machine and process that ran it
ALTER TABLE runs ADD COLUMN reason VARCHAR;  -- why a run failed, stopped or was abandoned

-- The registry each sync used: the warehouse refuses another registry, or a
-- change that would drop what stored articles use, unless told it is meant.
CREATE TABLE registry_syncs (
    synced_at    TIMESTAMPTZ NOT NULL,
    path         VARCHAR NOT NULL,       -- '(shipped)' for the registry in the package
    sha256       VARCHAR NOT NULL,       -- of the file's content
    sources      INTEGER NOT NULL,
    feeds        INTEGER NOT NULL,
    run_id       VARCHAR,
    accepted     VARCHAR                 -- what the user accepted (--accept-registry-change)
);

-- A backfill plan made while some sitemap or archive could not be read is
-- not complete: the same command discovers again.
ALTER TABLE backfills ADD COLUMN complete BOOLEAN DEFAULT true;

-- Backfills (plans and checkpoints), provenance of sightings, and the raw page archive.

-- How an article was found: a feed poll, or a backfill input.
ALTER TABLE sightings ADD COLUMN via VARCHAR DEFAULT 'feed';   -- feed | sitemap | archive | urls | warc
ALTER TABLE sightings ADD COLUMN backfill_id VARCHAR;

-- The items a backfill selected (before any page was fetched), newest first.
CREATE TABLE backfill_plan (
    backfill_id  VARCHAR NOT NULL,
    url          VARCHAR NOT NULL,
    source_id    VARCHAR NOT NULL,
    input        VARCHAR NOT NULL,      -- sitemap URL, feed URL, urls file or WARC file
    via          VARCHAR NOT NULL,      -- sitemap | archive | urls | warc
    published_at TIMESTAMPTZ,
    title        VARCHAR,
    position     INTEGER NOT NULL,      -- processing order (newest first)
    warc_offset  BIGINT,                -- WARC inputs: where the record starts
    PRIMARY KEY (backfill_id, url)
);

-- Checkpoints: an item is done when its batch committed (article, sighting or reject).
CREATE TABLE backfill_done (
    backfill_id VARCHAR NOT NULL,
    url         VARCHAR NOT NULL,
    outcome     VARCHAR NOT NULL,
    done_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (backfill_id, url)
);

CREATE TABLE backfills (
    backfill_id VARCHAR PRIMARY KEY,
    params      JSON NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    planned     INTEGER,
    finished_at TIMESTAMPTZ
);

-- Raw pages: every fetched page body, gzip-compressed in a content-addressed
-- file under the raw directory (raw/ab/cd/<sha256>.html.gz).
CREATE TABLE raw_pages (
    url          VARCHAR NOT NULL,      -- the entry URL (canonical form)
    final_url    VARCHAR,
    fetched_at   TIMESTAMPTZ NOT NULL,
    sha256       VARCHAR NOT NULL,
    bytes        BIGINT NOT NULL,       -- uncompressed size
    status       INTEGER,
    content_type VARCHAR,
    run_id       VARCHAR,
    PRIMARY KEY (url, sha256)
);

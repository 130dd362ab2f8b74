-- The contract tables (shared/DESIGN.md) plus the bookkeeping they need.
-- Timestamps are TIMESTAMPTZ in UTC. Ids are short stable hashes (VARCHAR).

CREATE TABLE sources (
    source_id   VARCHAR PRIMARY KEY,
    name        VARCHAR NOT NULL,
    kind        VARCHAR NOT NULL,          -- publisher | wire | aggregator
    domains     VARCHAR[] NOT NULL,
    homepage    VARCHAR,
    country     VARCHAR,
    language    VARCHAR,
    credits     VARCHAR[],
    sitemaps    VARCHAR[],
    updated_at  TIMESTAMPTZ
);

CREATE TABLE feeds (
    feed_id              VARCHAR PRIMARY KEY,
    source_id            VARCHAR NOT NULL,
    url                  VARCHAR NOT NULL,  -- current URL (follows permanent redirects)
    registry_url         VARCHAR NOT NULL,  -- URL as the registry lists it; feed_id derives from it
    title                VARCHAR,
    etag                 VARCHAR,
    last_modified        VARCHAR,
    last_status          INTEGER,
    last_outcome         VARCHAR,
    last_error           VARCHAR,
    last_fetched_at      TIMESTAMPTZ,
    next_fetch_at        TIMESTAMPTZ,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    disabled             BOOLEAN NOT NULL DEFAULT false,
    disabled_reason      VARCHAR,
    last_entries         INTEGER,
    ttl_minutes          INTEGER,
    in_registry          BOOLEAN NOT NULL DEFAULT true
);

CREATE TABLE articles (
    article_id     VARCHAR PRIMARY KEY,
    canonical_url  VARCHAR NOT NULL,
    url            VARCHAR NOT NULL,       -- the link through which it was first found
    source_id      VARCHAR NOT NULL,
    title          VARCHAR,
    body           VARCHAR NOT NULL,
    author         VARCHAR,
    published_at   TIMESTAMPTZ,
    language       VARCHAR,
    word_count     INTEGER NOT NULL,
    content_hash   VARCHAR NOT NULL,       -- sha256 of the normalised body
    cluster_id     VARCHAR NOT NULL,
    wire_service   VARCHAR,                -- source_id of the credited wire service
    extractor      VARCHAR NOT NULL,       -- trafilatura-X.Y.Z | feed-content | feed-summary
    first_seen_at  TIMESTAMPTZ NOT NULL,
    last_seen_at   TIMESTAMPTZ NOT NULL,
    feed_id        VARCHAR,                -- the feed that first listed it
    run_id         VARCHAR                 -- the run that first loaded it
);

-- Every URL (canonical form) known to lead to an article: feed links with
-- other tracking parameters, redirect targets, rel=canonical targets.
CREATE TABLE article_urls (
    url        VARCHAR PRIMARY KEY,
    article_id VARCHAR NOT NULL
);

CREATE TABLE sightings (
    article_id VARCHAR NOT NULL,
    feed_id    VARCHAR NOT NULL,
    source_id  VARCHAR NOT NULL,
    seen_at    TIMESTAMPTZ NOT NULL,
    run_id     VARCHAR NOT NULL,
    url        VARCHAR,
    PRIMARY KEY (article_id, feed_id, run_id)
);

CREATE TABLE clusters (
    cluster_id         VARCHAR PRIMARY KEY,
    origin_article_id  VARCHAR NOT NULL,
    origin_source_id   VARCHAR NOT NULL,
    size               INTEGER NOT NULL,
    first_published_at TIMESTAMPTZ,
    updated_at         TIMESTAMPTZ
);

CREATE TABLE fetch_log (
    run_id      VARCHAR NOT NULL,
    url         VARCHAR NOT NULL,
    kind        VARCHAR NOT NULL,          -- feed | page | robots | sitemap
    status      INTEGER,
    outcome     VARCHAR NOT NULL,          -- ok | not_modified | error | blocked | skipped
    error       VARCHAR,
    bytes       BIGINT NOT NULL DEFAULT 0,
    elapsed_ms  INTEGER NOT NULL DEFAULT 0,
    fetched_at  TIMESTAMPTZ NOT NULL,
    final_url   VARCHAR,
    feed_id     VARCHAR
);

-- Items that did not become articles, with the stage and the reason
-- (an entry without a link, a page with no text and no feed text, ...).
CREATE TABLE rejects (
    run_id    VARCHAR NOT NULL,
    feed_id   VARCHAR,
    url       VARCHAR,
    stage     VARCHAR NOT NULL,            -- parse | page | extract
    reason    VARCHAR NOT NULL,
    rejected_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE runs (
    run_id      VARCHAR PRIMARY KEY,
    flow        VARCHAR NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    status      VARCHAR NOT NULL,          -- running | completed | failed
    counts      JSON
);


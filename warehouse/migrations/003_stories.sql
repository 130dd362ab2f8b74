-- Story clusters across sources and runs, and article revisions.

-- LSH bands of each article's MinHash signature (64 bands of 2 values; the
-- signature itself is the bands in order). Candidate lookup joins on
-- (band, bucket); story_at bounds the lookup to a time window.
CREATE TABLE article_bands (
    band       SMALLINT NOT NULL,
    bucket     BIGINT NOT NULL,
    article_id VARCHAR NOT NULL,
    story_at   TIMESTAMPTZ NOT NULL    -- coalesce(published_at, first_seen_at)
);

ALTER TABLE articles ADD COLUMN entry_title VARCHAR;          -- title the feed gave
ALTER TABLE articles ADD COLUMN entry_updated_at TIMESTAMPTZ; -- <updated> the feed gave
ALTER TABLE articles ADD COLUMN updated_at TIMESTAMPTZ;       -- last revision stored
ALTER TABLE articles ADD COLUMN revision INTEGER DEFAULT 0;   -- number of revisions
ALTER TABLE articles ADD COLUMN cluster_score DOUBLE;         -- containment with the member it joined

-- Earlier versions of an article whose text or title changed at the same URL.
CREATE TABLE article_revisions (
    article_id       VARCHAR NOT NULL,
    revision         INTEGER NOT NULL,      -- 1 for the first change
    revised_at       TIMESTAMPTZ NOT NULL,
    run_id           VARCHAR,
    changed          VARCHAR NOT NULL,      -- title | body | title,body
    old_title        VARCHAR,
    new_title        VARCHAR,
    old_content_hash VARCHAR,
    new_content_hash VARCHAR,
    old_body         VARCHAR,
    old_word_count   INTEGER,
    PRIMARY KEY (article_id, revision)
);

-- The near-duplicate lookup of a live batch reads only recent bands: a copy of
-- the rows of article_bands whose story_at is at or after the horizon (the
-- newest story time loaded, at most now, minus the story window and a margin).
-- article_bands keeps every article's bands: a backfill or a revision of an
-- older article looks there. The load step moves the horizon forward (never
-- back) and drops the rows it passes; see ingest.store.stories.
CREATE TABLE recent_bands (
    band       SMALLINT NOT NULL,
    bucket     BIGINT NOT NULL,
    article_id VARCHAR NOT NULL,
    story_at   TIMESTAMPTZ NOT NULL
);

-- At most one row; none until the first load builds recent_bands from
-- article_bands (an empty table is also what a warehouse copy starts from).
CREATE TABLE band_horizon (
    horizon TIMESTAMPTZ NOT NULL
);

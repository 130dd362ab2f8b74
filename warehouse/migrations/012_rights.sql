-- Rights signals and provenance per article (ingest.rights, ingest explain).

-- What each article's publisher declared when its page was fetched (the
-- evidence; NULL when the body came from the feed alone), and the summary:
-- reserved | open | unknown (see the README).
ALTER TABLE articles ADD COLUMN rights STRUCT(
    robots_meta VARCHAR[],          -- <meta name="robots"> directives for every crawler (or ours)
    x_robots_tag VARCHAR[],         -- the X-Robots-Tag header's, likewise
    tdm_reservation BIGINT,         -- TDMRep: 1 reserved, 0 not reserved, NULL not declared
    tdm_policy VARCHAR,
    tdm_source VARCHAR,             -- tdmrep.json | header | meta
    ai_disallowed VARCHAR[],        -- AI/dataset crawlers robots.txt names and disallows here
    accessible_for_free BOOLEAN,    -- schema.org isAccessibleForFree
    paywalled_parts VARCHAR[],      -- cssSelector of each hasPart not free
    license VARCHAR,
    license_source VARCHAR          -- jsonld | link | meta | cc-link
);
ALTER TABLE articles ADD COLUMN reuse VARCHAR DEFAULT 'unknown';

-- How the row came to be: the listing, the fetch its text came from, the extraction.
ALTER TABLE articles ADD COLUMN provenance STRUCT(
    found_via VARCHAR,              -- feed | sitemap | archive | urls | warc
    found_in VARCHAR,               -- the feed id, or the backfill's input
    fetched_url VARCHAR,
    final_url VARCHAR,
    status INTEGER,
    fetched_at VARCHAR,             -- ISO 8601 UTC (text: DuckLake reads no time inside a struct)
    raw_sha256 VARCHAR,             -- the page as fetched (in the raw archive unless withheld)
    extractor VARCHAR,
    extraction VARCHAR              -- the extractor's path and settings
);

-- A revision row keeps the version it replaced (like old_title, old_body):
-- its rights and provenance too.
ALTER TABLE article_revisions ADD COLUMN old_rights STRUCT(
    robots_meta VARCHAR[], x_robots_tag VARCHAR[], tdm_reservation BIGINT, tdm_policy VARCHAR,
    tdm_source VARCHAR, ai_disallowed VARCHAR[], accessible_for_free BOOLEAN,
    paywalled_parts VARCHAR[], license VARCHAR, license_source VARCHAR
);
ALTER TABLE article_revisions ADD COLUMN old_reuse VARCHAR;
ALTER TABLE article_revisions ADD COLUMN old_provenance STRUCT(
    found_via VARCHAR, found_in VARCHAR, fetched_url VARCHAR, final_url VARCHAR, status INTEGER,
    fetched_at VARCHAR, raw_sha256 VARCHAR, extractor VARCHAR, extraction VARCHAR
);

-- /.well-known/tdmrep.json per origin, cached like robots.txt.
CREATE TABLE tdmrep (
    origin      VARCHAR PRIMARY KEY,
    fetched_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    status      INTEGER,
    outcome     VARCHAR NOT NULL,     -- ok | missing (4xx: no declaration) | error
    body        VARCHAR
);

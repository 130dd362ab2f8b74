-- Article metadata decided from every candidate a page offers (ingest.metadata),
-- with where each field came from; the registry's optional time zone.

ALTER TABLE articles ADD COLUMN authors VARCHAR[];             -- people only; author = their joined names
ALTER TABLE articles ADD COLUMN published_precision VARCHAR;   -- minute | day (a date-only page is not midnight)
ALTER TABLE articles ADD COLUMN modified_at TIMESTAMPTZ;
ALTER TABLE articles ADD COLUMN description VARCHAR;
ALTER TABLE articles ADD COLUMN image_url VARCHAR;
ALTER TABLE articles ADD COLUMN section VARCHAR;
ALTER TABLE articles ADD COLUMN keywords VARCHAR[];
-- field -> source: jsonld | microdata | og | meta | time | byline | h1 | title |
-- feed | registry | text | url (see the README)
ALTER TABLE articles ADD COLUMN metadata_sources MAP(VARCHAR, VARCHAR);

ALTER TABLE sources ADD COLUMN timezone VARCHAR;  -- IANA name, for naive local times

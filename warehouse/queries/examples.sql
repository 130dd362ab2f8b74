-- Example queries. Run any of them with:
--   ingest query "<SQL>"            (read-only; --format csv|json|parquet --output FILE)
-- or open warehouse/news.duckdb read-only from any DuckDB client between runs.

-- Articles per source in the last 7 days, with how many credit a wire service.
SELECT source_id, count(*) AS articles, count(wire_service) AS wire_credited
FROM articles
WHERE published_at >= now() - INTERVAL 7 DAY
GROUP BY ALL ORDER BY articles DESC;

-- The newest articles with their publisher's name.
SELECT a.published_at, s.name AS publisher, a.title, a.canonical_url
FROM articles a JOIN sources s USING (source_id)
ORDER BY a.published_at DESC NULLS LAST LIMIT 20;

-- Stories told by more than one outlet, largest first.
SELECT c.cluster_id, c.size, c.origin_source_id, c.first_published_at, o.title
FROM clusters c JOIN articles o ON o.article_id = c.origin_article_id
WHERE c.size > 1 ORDER BY c.size DESC, c.first_published_at DESC;

-- Which outlets republish which wire service.
SELECT wire_service, source_id, count(*) AS copies
FROM articles WHERE wire_service IS NOT NULL
GROUP BY ALL ORDER BY copies DESC;

-- Feed health: failing feeds first, with the last error.
SELECT source_id, url, last_outcome, last_status, consecutive_failures, last_error, next_fetch_at
FROM feeds WHERE in_registry ORDER BY consecutive_failures DESC, source_id;

-- What each run did (counts is JSON).
SELECT run_id, status, started_at, finished_at - started_at AS took,
       counts->>'articles_new' AS new_articles, counts->>'feed_error' AS feed_errors
FROM runs ORDER BY started_at DESC LIMIT 10;

-- Every failure of the last run, with its reason.
SELECT kind, url, status, outcome, error FROM fetch_log
WHERE run_id = (SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 1)
  AND outcome NOT IN ('ok', 'not_modified')
UNION ALL
SELECT stage, url, NULL, 'rejected', reason FROM rejects
WHERE run_id = (SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 1);

-- How often each article was listed, and by how many feeds.
SELECT a.title, count(*) AS sightings, count(DISTINCT s.feed_id) AS feeds
FROM sightings s JOIN articles a USING (article_id)
GROUP BY ALL ORDER BY sightings DESC LIMIT 20;

-- What publishers declared about reuse, per source: reserved (TDM reserved,
-- noai, noarchive or AI crawlers disallowed), open (a CC licence), unknown.
SELECT source_id, reuse, count(*) AS articles
FROM articles
GROUP BY ALL
ORDER BY source_id, reuse;

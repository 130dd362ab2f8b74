-- Which sources republish which wire service or outlet, with counts.
-- via = 'wire credit': the article credits the wire (byline, dateline, credit line);
-- via = 'story copy': the article is in a story that another source published
-- first, with no wire credited.
CREATE OR REPLACE VIEW syndication AS
SELECT
    a.source_id AS republisher,
    a.wire_service AS original_source,
    'wire credit' AS via,
    count(*) AS articles,
    min(coalesce(a.published_at, a.first_seen_at)) AS first_at,
    max(coalesce(a.published_at, a.first_seen_at)) AS last_at
FROM articles a
WHERE a.wire_service IS NOT NULL
GROUP BY ALL
UNION ALL
SELECT
    a.source_id,
    c.origin_source_id,
    'story copy',
    count(*),
    min(coalesce(a.published_at, a.first_seen_at)),
    max(coalesce(a.published_at, a.first_seen_at))
FROM articles a
JOIN clusters c USING (cluster_id)
WHERE a.article_id <> c.origin_article_id
  AND a.source_id <> c.origin_source_id
  AND a.wire_service IS NULL
GROUP BY ALL;

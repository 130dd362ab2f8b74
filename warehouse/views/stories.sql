-- One row per story (cluster): its origin, when it was first published and
-- seen, how many publications and which sources carried it.
CREATE OR REPLACE VIEW stories AS
SELECT
    c.cluster_id,
    c.origin_article_id,
    c.origin_source_id,
    any_value(o.title) AS title,
    c.size AS members,
    count(DISTINCT a.source_id) AS source_count,
    list(DISTINCT a.source_id ORDER BY a.source_id) AS sources,
    any_value(a.wire_service) FILTER (WHERE a.wire_service IS NOT NULL) AS wire_service,
    c.first_published_at,
    min(a.first_seen_at) AS first_seen_at,
    max(a.last_seen_at) AS last_seen_at
FROM clusters c
JOIN articles a USING (cluster_id)
LEFT JOIN articles o ON o.article_id = c.origin_article_id
GROUP BY c.cluster_id, c.origin_article_id, c.origin_source_id, c.size, c.first_published_at;

-- The registry's optional tags: the user's own grouping of sources (an OPML
-- import's categories), to filter and group by in SQL.

ALTER TABLE sources ADD COLUMN tags VARCHAR[];

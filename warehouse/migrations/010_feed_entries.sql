-- How many items each feed answer held (feed fetches that returned a feed;
-- NULL for other fetches and for rows logged before this column): the
-- empty_feed alert looks at the last polls of a feed, not only its latest.
ALTER TABLE fetch_log ADD COLUMN entries INTEGER;

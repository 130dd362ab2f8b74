-- Staged batches the loader has written: a batch file in the staging directory
-- is loaded exactly once, because its id is recorded in the same transaction
-- as its rows (the file is deleted after the commit).
CREATE TABLE staged_batches (
    batch_id  VARCHAR PRIMARY KEY,
    run_id    VARCHAR NOT NULL,       -- the run that staged it
    loaded_by VARCHAR,                -- the run whose loader wrote it (a later run for leftovers)
    loaded_at TIMESTAMPTZ NOT NULL,
    counts    JSON
);

-- Staged batches the loader has written: a batch file in the staging directory
-- is loaded exactly once, because its id is recorded in the same transaction
-- as its rows (the file is deleted after the commit). Consecutive files of one
-- run are written together, in one transaction (load_id).
CREATE TABLE staged_batches (
    batch_id  VARCHAR PRIMARY KEY,
    run_id    VARCHAR NOT NULL,       -- the run that staged it
    loaded_by VARCHAR,                -- the run whose loader wrote it (a later run for leftovers)
    loaded_at TIMESTAMPTZ NOT NULL,
    load_id   VARCHAR NOT NULL,       -- the first batch_id of the transaction that wrote it
    counts    JSON                    -- what that transaction wrote (shared by its files)
);

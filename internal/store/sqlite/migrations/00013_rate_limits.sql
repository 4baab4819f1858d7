-- Rate limits shared by pamd replicas on PostgreSQL (store/postgres
-- Limiter): one row per limiter and key (a token id, a client address) with
-- the key's theoretical arrival time (GCRA), in nanoseconds since the Unix
-- epoch. A row whose tat has passed is a full bucket, the same as no row, so
-- the leader deletes those (a full scan of a table that holds only the keys
-- active in the last few seconds: no index on tat, which would cost every
-- request's update an index write). SQLite, one process, keeps its limits in
-- memory and leaves the table empty. Portable SQL.

-- +goose Up
CREATE TABLE rate_limits (
    limiter TEXT NOT NULL,
    key     TEXT NOT NULL,
    tat     BIGINT NOT NULL,
    PRIMARY KEY (limiter, key)
);

-- +goose Down
DROP TABLE rate_limits;

-- Active-elevation listings filter on state and a scope subtree
-- (scope_prefix) and page by id. Without this index the subtree test could
-- only run on every active row, so each page cost grew with the store
-- (make bench: about 74 ms per page of 100 at 100,000 elevations against
-- about 20 ms at 10,000). With it the rows read are the subtree's. Portable SQL; a
-- PostgreSQL store needs its scope range under COLLATE "C" (or the index
-- with text_pattern_ops) for the same plan.

-- +goose Up
CREATE INDEX elevations_state_scope ON elevations (state, scope);

-- +goose Down
DROP INDEX elevations_state_scope;

-- Partial matches of schedule.on.all: one open group per workflow version
-- and correlation key; closed groups stay until the matcher has passed
-- their events, so that a repeat of the log cannot open them again.
CREATE TABLE start_groups (
    id         TEXT PRIMARY KEY,
    namespace  TEXT NOT NULL,
    name       TEXT NOT NULL,
    version    TEXT NOT NULL,
    corr_key   TEXT NOT NULL,
    closed     BOOLEAN NOT NULL DEFAULT false,
    last_seq   BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX start_groups_open ON start_groups (namespace, name, version, corr_key) WHERE NOT closed;
CREATE INDEX start_groups_closed ON start_groups (closed, last_seq);
CREATE INDEX start_groups_workflow ON start_groups (namespace, name, created_at);

CREATE TABLE start_events (
    group_id  TEXT NOT NULL,
    slot      INTEGER NOT NULL,
    namespace TEXT NOT NULL,
    name      TEXT NOT NULL,
    source    TEXT NOT NULL,
    id        TEXT NOT NULL,
    seq       BIGINT NOT NULL,
    envelope  BYTEA NOT NULL,
    PRIMARY KEY (group_id, slot),
    UNIQUE (namespace, name, source, id)
);

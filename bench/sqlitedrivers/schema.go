package main

// schema is store/sqlite/migrations 0001 to 0005 as on main at 3a6a9b4, copied
// verbatim and in order (this module cannot embed files of the main module;
// migration 0004's Go step only backfills rows that a fresh database does
// not have). Keep it in step when the migrations change.
const schema = `
CREATE TABLE workflows (
    namespace  TEXT NOT NULL,
    name       TEXT NOT NULL,
    version    TEXT NOT NULL,
    source     BLOB NOT NULL,
    digest     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (namespace, name, version)
);

CREATE TABLE workflow_flags (
    namespace TEXT NOT NULL,
    name      TEXT NOT NULL,
    enabled   INTEGER NOT NULL,
    PRIMARY KEY (namespace, name)
);

CREATE TABLE events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL,
    source      TEXT NOT NULL,
    type        TEXT NOT NULL,
    subject     TEXT NOT NULL DEFAULT '',
    time        INTEGER NOT NULL,
    envelope    BLOB NOT NULL,
    received_at INTEGER NOT NULL,
    UNIQUE (source, id)
);

CREATE TABLE instances (
    id          TEXT PRIMARY KEY,
    namespace   TEXT NOT NULL,
    name        TEXT NOT NULL,
    version     TEXT NOT NULL,
    status      TEXT NOT NULL,
    state       BLOB NOT NULL,
    rev         INTEGER NOT NULL,
    trigger_key TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX instances_trigger ON instances (namespace, name, trigger_key) WHERE trigger_key <> '';
CREATE INDEX instances_workflow ON instances (namespace, name, created_at);
CREATE INDEX instances_status ON instances (status, created_at);

CREATE TABLE history (
    instance_id TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    time        INTEGER NOT NULL,
    type        TEXT NOT NULL,
    task        TEXT NOT NULL DEFAULT '',
    data        BLOB,
    PRIMARY KEY (instance_id, seq)
);

CREATE TABLE timers (
    id          TEXT PRIMARY KEY,
    instance_id TEXT NOT NULL,
    due         INTEGER NOT NULL
);
CREATE INDEX timers_due ON timers (due);

CREATE TABLE subscriptions (
    id          TEXT PRIMARY KEY,
    instance_id TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    corr_key    TEXT NOT NULL,
    since       INTEGER NOT NULL,
    spec        BLOB NOT NULL
);
CREATE INDEX subscriptions_match ON subscriptions (event_type, corr_key);

CREATE TABLE outbox (
    id          TEXT PRIMARY KEY,
    instance_id TEXT NOT NULL,
    kind        TEXT NOT NULL,
    payload     BLOB NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     INTEGER NOT NULL
);
CREATE INDEX outbox_next ON outbox (next_at);
CREATE TABLE cursors (
    name TEXT PRIMARY KEY,
    seq  INTEGER NOT NULL
);
CREATE INDEX events_type ON events (type, seq);
-- Partial matches of schedule.on.all: one open group per workflow version
-- and correlation key; closed groups stay until the matcher has passed
-- their events, so that a repeat of the log cannot open them again.
CREATE TABLE start_groups (
    id         TEXT PRIMARY KEY,
    namespace  TEXT NOT NULL,
    name       TEXT NOT NULL,
    version    TEXT NOT NULL,
    corr_key   TEXT NOT NULL,
    closed     INTEGER NOT NULL DEFAULT 0,
    last_seq   INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX start_groups_open ON start_groups (namespace, name, version, corr_key) WHERE closed = 0;
CREATE INDEX start_groups_closed ON start_groups (closed, last_seq);
CREATE INDEX start_groups_workflow ON start_groups (namespace, name, created_at);

CREATE TABLE start_events (
    group_id  TEXT NOT NULL,
    slot      INTEGER NOT NULL,
    namespace TEXT NOT NULL,
    name      TEXT NOT NULL,
    source    TEXT NOT NULL,
    id        TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    envelope  BLOB NOT NULL,
    PRIMARY KEY (group_id, slot),
    UNIQUE (namespace, name, source, id)
);
-- Work is divided into slots that nodes lease (see store.Slots). Timers and
-- outbox rows carry their instance's slot so that a node reads only its
-- own; rows from before this migration are given theirs by the Go step
-- that follows it (store.SlotOf).
ALTER TABLE timers ADD COLUMN slot INTEGER NOT NULL DEFAULT -1;
ALTER TABLE outbox ADD COLUMN slot INTEGER NOT NULL DEFAULT -1;

CREATE TABLE slots (
    slot       INTEGER PRIMARY KEY,
    owner      TEXT NOT NULL DEFAULT '',
    fence      INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER NOT NULL DEFAULT 0
);
-- Matcher positions live apart from the leases, so that saving them never
-- waits on the fence checks of commits.
CREATE TABLE slot_cursors (
    slot   INTEGER PRIMARY KEY,
    cursor INTEGER NOT NULL DEFAULT 0
);
-- Every slot starts where the single matcher had got to.
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 63)
INSERT INTO slots (slot) SELECT i FROM n;
INSERT INTO slot_cursors (slot, cursor) SELECT slot, COALESCE((SELECT seq FROM cursors WHERE name = 'matcher'), 0) FROM slots;

CREATE TABLE nodes (
    id         TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
-- Retention deletes events and history older than a cutoff in small
-- batches (Store.Prune); these indexes let each batch find its rows without
-- scanning the tables.
CREATE INDEX events_received ON events (received_at);
CREATE INDEX history_time ON history (time);
`

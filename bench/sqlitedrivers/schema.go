package main

// schema is store/sqlite/migrations/0001_init.sql followed by
// 0002_cursors.sql, copied verbatim (this module cannot embed files of the
// main module). Keep it in step when the migrations change.
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
`

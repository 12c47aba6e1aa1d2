CREATE TABLE workflows (
    namespace  TEXT NOT NULL,
    name       TEXT NOT NULL,
    version    TEXT NOT NULL,
    source     BYTEA NOT NULL,
    digest     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (namespace, name, version)
);

CREATE TABLE workflow_flags (
    namespace TEXT NOT NULL,
    name      TEXT NOT NULL,
    enabled   BOOLEAN NOT NULL,
    PRIMARY KEY (namespace, name)
);

CREATE TABLE events (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          TEXT NOT NULL,
    source      TEXT NOT NULL,
    type        TEXT NOT NULL,
    subject     TEXT NOT NULL DEFAULT '',
    time        BIGINT NOT NULL,
    envelope    BYTEA NOT NULL,
    received_at BIGINT NOT NULL,
    UNIQUE (source, id)
);
CREATE INDEX events_type ON events (type, seq);

CREATE TABLE instances (
    id          TEXT PRIMARY KEY,
    namespace   TEXT NOT NULL,
    name        TEXT NOT NULL,
    version     TEXT NOT NULL,
    status      TEXT NOT NULL,
    state       BYTEA NOT NULL,
    rev         BIGINT NOT NULL,
    trigger_key TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX instances_trigger ON instances (namespace, name, trigger_key) WHERE trigger_key <> '';
CREATE INDEX instances_workflow ON instances (namespace, name, created_at);
CREATE INDEX instances_status ON instances (status, created_at);
CREATE INDEX instances_created ON instances (created_at, id);

CREATE TABLE history (
    instance_id TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    time        BIGINT NOT NULL,
    type        TEXT NOT NULL,
    task        TEXT NOT NULL DEFAULT '',
    data        BYTEA,
    PRIMARY KEY (instance_id, seq)
);

CREATE TABLE timers (
    id          TEXT PRIMARY KEY,
    instance_id TEXT NOT NULL,
    due         BIGINT NOT NULL
);
CREATE INDEX timers_due ON timers (due, id);

CREATE TABLE subscriptions (
    id          TEXT PRIMARY KEY,
    instance_id TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    corr_key    TEXT NOT NULL,
    since       BIGINT NOT NULL,
    spec        BYTEA NOT NULL
);
CREATE INDEX subscriptions_match ON subscriptions (event_type, corr_key);

CREATE TABLE outbox (
    id          TEXT PRIMARY KEY,
    instance_id TEXT NOT NULL,
    kind        TEXT NOT NULL,
    payload     BYTEA NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     BIGINT NOT NULL
);
CREATE INDEX outbox_next ON outbox (next_at, id);

CREATE TABLE cursors (
    name TEXT PRIMARY KEY,
    seq  BIGINT NOT NULL
);

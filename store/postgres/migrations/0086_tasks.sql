-- Approval tasks: one per task.create call (call_id is its outbox item),
-- and the history of who did what to each, when.
CREATE TABLE tasks (
    id            TEXT PRIMARY KEY,
    call_id       TEXT NOT NULL UNIQUE,
    shop          TEXT NOT NULL,
    instance      TEXT NOT NULL,
    workflow      TEXT NOT NULL,
    position      TEXT NOT NULL,
    title         TEXT NOT NULL,
    description   TEXT NOT NULL,
    data          BYTEA,
    form          BYTEA,
    assignee_user TEXT NOT NULL,
    assignee_role TEXT NOT NULL,
    status        TEXT NOT NULL,
    claimed_by    TEXT NOT NULL,
    due_at        BIGINT NOT NULL, -- 0: no due date
    escalated     BOOLEAN NOT NULL,
    plan          BYTEA,
    answer        BYTEA,
    reason        TEXT NOT NULL,
    done_by       TEXT NOT NULL,
    done_at       BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    rev           BIGINT NOT NULL
);
CREATE INDEX tasks_shop ON tasks (shop, status, id);
CREATE INDEX tasks_role ON tasks (shop, assignee_role, status, id);
CREATE INDEX tasks_user ON tasks (assignee_user, status, id);
CREATE INDEX tasks_claimed ON tasks (claimed_by, status, id);
CREATE INDEX tasks_due ON tasks (due_at) WHERE due_at > 0 AND status IN ('open', 'claimed');
CREATE TABLE task_history (
    task_id TEXT NOT NULL,
    seq     BIGINT NOT NULL,
    at      BIGINT NOT NULL,
    action  TEXT NOT NULL,
    by_user TEXT NOT NULL,
    detail  BYTEA,
    PRIMARY KEY (task_id, seq)
);

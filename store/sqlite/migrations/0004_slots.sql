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

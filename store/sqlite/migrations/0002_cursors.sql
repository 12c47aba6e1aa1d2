CREATE TABLE cursors (
    name TEXT PRIMARY KEY,
    seq  INTEGER NOT NULL
);
CREATE INDEX events_type ON events (type, seq);

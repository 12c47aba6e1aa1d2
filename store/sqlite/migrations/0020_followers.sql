-- Event-log followers (store.Followers): each has its own cursor and a lease
-- one node holds at a time; fence grows with every change of hands.
CREATE TABLE followers (
    name       TEXT PRIMARY KEY,
    cursor     INTEGER NOT NULL DEFAULT 0,
    owner      TEXT NOT NULL DEFAULT '',
    fence      INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL DEFAULT 0
);

-- The analytics follower's projection: events per shop, type and day.
CREATE TABLE event_counts (
    shop  TEXT NOT NULL,
    type  TEXT NOT NULL,
    day   TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (shop, type, day)
);
CREATE INDEX event_counts_day ON event_counts (day);

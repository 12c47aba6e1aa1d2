-- Shops' configurations; their secrets are sealed by the application.
CREATE TABLE shops (
    id         TEXT PRIMARY KEY,
    platform   TEXT NOT NULL,
    domain     TEXT NOT NULL,
    config     BLOB NOT NULL,
    sealed     BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX shops_domain ON shops (platform, domain) WHERE domain <> '';

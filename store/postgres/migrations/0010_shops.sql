-- Shops' configurations; their secrets are sealed by the application.
CREATE TABLE shops (
    id         TEXT PRIMARY KEY,
    platform   TEXT NOT NULL,
    domain     TEXT NOT NULL,
    config     BYTEA NOT NULL,
    sealed     BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX shops_domain ON shops (platform, domain) WHERE domain <> '';

-- People who answer approval tasks, the roles they hold per shop, and
-- their login sessions (by the hash of the token they were given).
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    email         TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE TABLE user_roles (
    user_id TEXT NOT NULL,
    shop    TEXT NOT NULL,
    role    TEXT NOT NULL,
    PRIMARY KEY (user_id, shop, role)
);
CREATE INDEX user_roles_shop ON user_roles (shop, role);
CREATE TABLE user_sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX user_sessions_user ON user_sessions (user_id, expires_at);

-- The customers follower's projection (package customer): one row per
-- profile (merged ones stay as pointers to the profile they joined), the
-- identities that find a profile, the orders its metrics come from, and
-- the events of its activity.
CREATE TABLE customers (
    id               TEXT COLLATE "C" PRIMARY KEY,
    shop             TEXT NOT NULL,
    merged_into      TEXT NOT NULL DEFAULT '',
    email            TEXT NOT NULL DEFAULT '',
    phone            TEXT NOT NULL DEFAULT '',
    search           TEXT NOT NULL DEFAULT '',
    orders           INTEGER NOT NULL DEFAULT 0,
    last_order_at    BIGINT NOT NULL DEFAULT 0,
    open_checkout_at BIGINT NOT NULL DEFAULT 0,
    last_activity_at BIGINT NOT NULL DEFAULT 0,
    created_seq      BIGINT NOT NULL DEFAULT 0,
    profile          BYTEA NOT NULL,
    updated_at       BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX customers_shop ON customers (shop, id) WHERE merged_into = '';
CREATE INDEX customers_merged ON customers (merged_into) WHERE merged_into <> '';

CREATE TABLE customer_keys (
    shop        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    value       TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    PRIMARY KEY (shop, kind, value)
);
CREATE INDEX customer_keys_customer ON customer_keys (customer_id);

CREATE TABLE customer_orders (
    shop           TEXT NOT NULL,
    order_id       TEXT NOT NULL,
    customer_id    TEXT NOT NULL,
    currency       TEXT NOT NULL DEFAULT '',
    net_e4         BIGINT NOT NULL DEFAULT 0,
    counted        BOOLEAN NOT NULL DEFAULT false,
    checkout_token TEXT NOT NULL DEFAULT '',
    data           BYTEA NOT NULL,
    PRIMARY KEY (shop, order_id)
);
CREATE INDEX customer_orders_customer ON customer_orders (customer_id);
CREATE INDEX customer_orders_checkout ON customer_orders (shop, checkout_token) WHERE checkout_token <> '';

CREATE TABLE customer_events (
    customer_id TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    id          TEXT NOT NULL,
    source      TEXT NOT NULL,
    type        TEXT NOT NULL,
    at          BIGINT NOT NULL,
    summary     BYTEA NOT NULL,
    PRIMARY KEY (customer_id, seq)
);
CREATE INDEX customer_events_recent ON customer_events (customer_id, at);

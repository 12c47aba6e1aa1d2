-- Webhooks as received: the raw body beside the events it became, or on the
-- dead-letter list with the reason it could not be mapped.
CREATE TABLE webhook_deliveries (
    id          TEXT PRIMARY KEY,
    shop        TEXT NOT NULL,
    platform    TEXT NOT NULL,
    topic       TEXT NOT NULL,
    key         TEXT NOT NULL,
    headers     BYTEA NOT NULL,
    body        BYTEA NOT NULL,
    status      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    events      TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX webhook_deliveries_key ON webhook_deliveries (shop, key) WHERE key <> '';
CREATE INDEX webhook_deliveries_status ON webhook_deliveries (status, id);
CREATE INDEX webhook_deliveries_received ON webhook_deliveries (received_at);

-- The message log of the sending rules: one row per message (a call's
-- idempotency key) with its latest status.
CREATE TABLE messages (
    key         TEXT PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    shop        TEXT NOT NULL,
    channel     TEXT NOT NULL,
    address     TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    workflow    TEXT NOT NULL,
    instance    TEXT NOT NULL,
    task        TEXT NOT NULL,
    template    TEXT NOT NULL,
    subject     TEXT NOT NULL,
    category    TEXT NOT NULL,
    status      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    at          INTEGER NOT NULL
);
CREATE INDEX messages_address ON messages (shop, address, id);
CREATE INDEX messages_instance ON messages (instance, id);
CREATE INDEX messages_recent ON messages (shop, channel, address, at) WHERE category = 'marketing' AND status IN ('sending', 'sent');
CREATE INDEX messages_rate ON messages (shop, at) WHERE status IN ('sending', 'sent');
CREATE INDEX messages_at ON messages (at);

-- Consents and orders by the keys that name a customer, from the event
-- log, for the sending rules to check at send time.
CREATE TABLE contact_facts (
    shop        TEXT NOT NULL,
    key         TEXT NOT NULL,
    kind        TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    occurred_at INTEGER NOT NULL,
    channel     TEXT NOT NULL,
    state       TEXT NOT NULL,
    PRIMARY KEY (shop, key, kind, seq)
);
CREATE INDEX contact_facts_when ON contact_facts (shop, key, kind, occurred_at);

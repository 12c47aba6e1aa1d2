-- The correlation keys of logged events (package eventkey): a checkout's
-- token, an order's id, a customer's email and id, each with its shop, so
-- that events about the same thing are found by an index lookup however
-- many other events came between. A key row goes with its event: retention
-- deleting the event deletes its keys.
CREATE TABLE event_keys (
    name  TEXT NOT NULL,
    value TEXT NOT NULL,
    shop  TEXT NOT NULL,
    seq   INTEGER NOT NULL REFERENCES events (seq) ON DELETE CASCADE,
    type  TEXT NOT NULL,
    PRIMARY KEY (name, value, shop, seq)
) WITHOUT ROWID;
CREATE INDEX event_keys_seq ON event_keys (seq);

-- Commerce events logged before this version get their keys, as
-- eventkey.Of gives them.
WITH c AS (
    SELECT seq, type, CAST(envelope AS TEXT) AS j FROM events
    WHERE type LIKE 'commerce.%' AND json_valid(CAST(envelope AS TEXT))
), s AS (
    SELECT seq, type, j, COALESCE(NULLIF(trim(json_extract(j, '$.data.shop')), ''), trim(json_extract(j, '$.shop')), '') AS shop FROM c
), k AS (
    SELECT 'checkoutToken' AS name, trim(json_extract(j, '$.data.checkoutToken')) AS value, shop, seq, type FROM s WHERE json_type(j, '$.data.checkoutToken') = 'text'
    UNION ALL
    SELECT 'orderId', trim(json_extract(j, '$.data.orderId')), shop, seq, type FROM s WHERE json_type(j, '$.data.orderId') = 'text'
    UNION ALL
    SELECT 'email', lower(trim(json_extract(j, '$.data.customer.email'))), shop, seq, type FROM s WHERE json_type(j, '$.data.customer.email') = 'text'
    UNION ALL
    SELECT 'customerId', trim(json_extract(j, '$.data.customer.id')), shop, seq, type FROM s WHERE json_type(j, '$.data.customer.id') = 'text'
)
INSERT OR IGNORE INTO event_keys (name, value, shop, seq, type) SELECT name, value, shop, seq, type FROM k WHERE value <> '';

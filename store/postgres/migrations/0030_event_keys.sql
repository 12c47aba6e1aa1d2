-- The correlation keys of logged events (package eventkey): a checkout's
-- token, an order's id, a customer's email and id, each with its shop, so
-- that events about the same thing are found by an index lookup however
-- many other events came between. Partitioned like events, by the
-- received_at of their event, so that retention drops a week of keys with
-- the week of events they index (retention.go lists both).
CREATE TABLE event_keys (
    name        TEXT NOT NULL,
    value       TEXT NOT NULL,
    shop        TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    type        TEXT NOT NULL,
    received_at BIGINT NOT NULL
) PARTITION BY RANGE (received_at);
CREATE TABLE event_keys_default PARTITION OF event_keys DEFAULT;

-- A partition for each weekly partition of events, with its bounds and
-- the store's naming (event_keys_p<YYYYMMDD>).
DO $$
DECLARE
    p RECORD;
BEGIN
    FOR p IN SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'events'::regclass AND c.relname LIKE 'events\_p%' AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT' LOOP
        EXECUTE format('CREATE TABLE %I PARTITION OF event_keys %s', 'event_keys_' || substr(p.relname, 8), p.bound);
    END LOOP;
END
$$;

-- Commerce events logged before this version get their keys, as
-- eventkey.Of gives them.
WITH c AS (
    SELECT seq, type, received_at, convert_from(envelope, 'UTF8')::jsonb AS j FROM events WHERE type LIKE 'commerce.%'
), s AS (
    SELECT seq, type, received_at, j, COALESCE(NULLIF(btrim(j #>> '{data,shop}'), ''), btrim(j ->> 'shop'), '') AS shop FROM c
), k AS (
    SELECT 'checkoutToken' AS name, btrim(j #>> '{data,checkoutToken}') AS value, shop, seq, type, received_at FROM s WHERE jsonb_typeof(j #> '{data,checkoutToken}') = 'string'
    UNION ALL
    SELECT 'orderId', btrim(j #>> '{data,orderId}'), shop, seq, type, received_at FROM s WHERE jsonb_typeof(j #> '{data,orderId}') = 'string'
    UNION ALL
    SELECT 'email', lower(btrim(j #>> '{data,customer,email}')), shop, seq, type, received_at FROM s WHERE jsonb_typeof(j #> '{data,customer,email}') = 'string'
    UNION ALL
    SELECT 'customerId', btrim(j #>> '{data,customer,id}'), shop, seq, type, received_at FROM s WHERE jsonb_typeof(j #> '{data,customer,id}') = 'string'
)
INSERT INTO event_keys (name, value, shop, seq, type, received_at) SELECT name, value, shop, seq, type, received_at FROM k WHERE value <> '';

CREATE INDEX event_keys_lookup ON event_keys (name, value, shop, seq);

-- Browsing the event log (GET /v1/events): the shop of each event (package
-- eventkey's ShopOf: data.shop, else the shop extension attribute) in a
-- column, indexed with the subject so that a filter on either is an index
-- range, newest first, not a scan of the log. The partial indexes leave out
-- the events of no shop and no subject; queries repeat the condition so
-- that the planner may use them. Indexes of the partitioned table are
-- created on every partition, present and future.
ALTER TABLE events ADD COLUMN shop TEXT NOT NULL DEFAULT '';

-- Envelopes and states are JSON as storeflow writes them; one that is not
-- (written by hand) is passed over rather than failing the upgrade.
CREATE FUNCTION storeflow_0075_jsonb(b BYTEA) RETURNS JSONB LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN convert_from(b, 'UTF8')::jsonb;
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$;

WITH s AS (
    SELECT seq, received_at, storeflow_0075_jsonb(envelope) AS j FROM events WHERE position('"shop"'::bytea IN envelope) > 0
), v AS (
    SELECT seq, received_at, CASE
        WHEN jsonb_typeof(j #> '{data,shop}') = 'string' AND btrim(j #>> '{data,shop}') <> '' THEN btrim(j #>> '{data,shop}')
        WHEN jsonb_typeof(j -> 'shop') = 'string' THEN btrim(j ->> 'shop')
        ELSE '' END AS shop FROM s
)
UPDATE events e SET shop = v.shop FROM v WHERE e.seq = v.seq AND e.received_at = v.received_at AND v.shop <> '';

CREATE INDEX events_shop ON events (shop, seq) WHERE shop <> '';
CREATE INDEX events_subject ON events (subject, seq) WHERE subject <> '';

-- Which instances each event started or resumed, written with the commit
-- of the transition that took the event. Not partitioned: the rows are few
-- beside the events (one per start and per delivery to a listen), and
-- retention deletes those of events it pruned.
CREATE TABLE event_instances (
    seq         BIGINT NOT NULL,
    instance_id TEXT NOT NULL,
    started     BOOLEAN NOT NULL,
    PRIMARY KEY (seq, instance_id)
);

-- Instances that events started before this version name their triggering
-- events in their state (origin.events); what resumed them was not kept.
WITH s AS (
    SELECT id, storeflow_0075_jsonb(state) #> '{origin,events}' AS events FROM instances WHERE position('"origin"'::bytea IN state) > 0
)
INSERT INTO event_instances (seq, instance_id, started)
    SELECT DISTINCT e.value::bigint, s.id, TRUE
    FROM s, jsonb_array_elements_text(s.events) AS e(value)
    WHERE jsonb_typeof(s.events) = 'array' AND e.value ~ '^[0-9]+$'
ON CONFLICT DO NOTHING;

DROP FUNCTION storeflow_0075_jsonb(BYTEA);

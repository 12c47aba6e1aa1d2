-- Browsing the event log (GET /v1/events): the shop of each event (package
-- eventkey's ShopOf: data.shop, else the shop extension attribute) in a
-- column, indexed with the subject so that a filter on either is an index
-- range, newest first, not a scan of the log. The partial indexes leave out
-- the events of no shop and no subject; queries repeat the condition so
-- that the planner may use them.
ALTER TABLE events ADD COLUMN shop TEXT NOT NULL DEFAULT '';

UPDATE events SET shop = CASE
        WHEN json_type(CAST(envelope AS TEXT), '$.data.shop') = 'text' AND trim(json_extract(CAST(envelope AS TEXT), '$.data.shop')) <> ''
            THEN trim(json_extract(CAST(envelope AS TEXT), '$.data.shop'))
        WHEN json_type(CAST(envelope AS TEXT), '$.shop') = 'text' THEN trim(json_extract(CAST(envelope AS TEXT), '$.shop'))
        ELSE '' END
    WHERE CAST(envelope AS TEXT) LIKE '%"shop"%' AND json_valid(CAST(envelope AS TEXT));

CREATE INDEX events_shop ON events (shop, seq) WHERE shop <> '';
CREATE INDEX events_subject ON events (subject, seq) WHERE subject <> '';

-- Which instances each event started or resumed, written with the commit
-- of the transition that took the event. No foreign key to events: a
-- transition may commit just after retention pruned its event, and its
-- commit must not fail for that; the trigger deletes the rows of an event
-- retention deletes.
CREATE TABLE event_instances (
    seq         INTEGER NOT NULL,
    instance_id TEXT NOT NULL,
    started     INTEGER NOT NULL,
    PRIMARY KEY (seq, instance_id)
) WITHOUT ROWID;
CREATE TRIGGER event_instances_pruned AFTER DELETE ON events BEGIN
    DELETE FROM event_instances WHERE seq = old.seq;
END;

-- Instances that events started before this version name their triggering
-- events in their state (origin.events); what resumed them was not kept.
INSERT OR IGNORE INTO event_instances (seq, instance_id, started)
    SELECT CAST(j.value AS INTEGER), i.id, 1
    FROM instances i, json_each(CAST(i.state AS TEXT), '$.origin.events') j
    WHERE CAST(i.state AS TEXT) LIKE '%"origin"%' AND json_valid(CAST(i.state AS TEXT))
        AND json_type(CAST(i.state AS TEXT), '$.origin.events') = 'array' AND j.type = 'integer';

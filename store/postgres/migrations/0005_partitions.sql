-- The append-only tables events and history become tables partitioned by
-- week (RANGE on a BIGINT of unix nanoseconds, weeks start Monday 00:00 UTC),
-- so that retention drops whole partitions instead of deleting rows. The
-- store creates the partitions of the coming weeks itself (retention.go);
-- this migration creates one per week that already holds rows, and a
-- DEFAULT partition that takes any row no weekly partition covers.
--
-- events is partitioned by received_at (set by storeflow, unlike the
-- producer's `time`). A unique constraint on a partitioned table must
-- include the partition key, so (source, id) is only indexed now: dedupe is
-- a lookup before the insert, which every appender makes while holding the
-- event-log advisory lock (see appendEvent). seq keeps one identity
-- sequence for all partitions, so the log stays globally ordered.
--
-- history is partitioned by its entry time; (instance_id, seq) stays the
-- leading part of its primary key, so reading an instance's history is an
-- index lookup in each partition.

CREATE TABLE events_partitioned (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY,
    id          TEXT NOT NULL,
    source      TEXT NOT NULL,
    type        TEXT NOT NULL,
    subject     TEXT NOT NULL DEFAULT '',
    time        BIGINT NOT NULL,
    envelope    BYTEA NOT NULL,
    received_at BIGINT NOT NULL
) PARTITION BY RANGE (received_at);
CREATE TABLE events_default PARTITION OF events_partitioned DEFAULT;

CREATE TABLE history_partitioned (
    instance_id TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    time        BIGINT NOT NULL,
    type        TEXT NOT NULL,
    task        TEXT NOT NULL DEFAULT '',
    data        BYTEA
) PARTITION BY RANGE (time);
CREATE TABLE history_default PARTITION OF history_partitioned DEFAULT;

-- One partition per week that holds rows, named like the store names them:
-- <table>_p<YYYYMMDD of the week's Monday>. 1970-01-05 was a Monday, 4 days
-- (345600 s) after the epoch; rows before it stay in the default partition.
DO $$
DECLARE
    week  CONSTANT BIGINT := 604800000000000;
    first CONSTANT BIGINT := 345600000000000;
    start BIGINT;
BEGIN
    FOR start IN SELECT DISTINCT first + (received_at - first) / week * week FROM events WHERE received_at >= first LOOP
        EXECUTE format('CREATE TABLE %I PARTITION OF events_partitioned FOR VALUES FROM (%s) TO (%s)',
            'events_p' || to_char(to_timestamp(start / 1000000000) AT TIME ZONE 'UTC', 'YYYYMMDD'), start, start + week);
    END LOOP;
    FOR start IN SELECT DISTINCT first + (time - first) / week * week FROM history WHERE time >= first LOOP
        EXECUTE format('CREATE TABLE %I PARTITION OF history_partitioned FOR VALUES FROM (%s) TO (%s)',
            'history_p' || to_char(to_timestamp(start / 1000000000) AT TIME ZONE 'UTC', 'YYYYMMDD'), start, start + week);
    END LOOP;
END
$$;

-- Keep the sequence numbers: readers' cursors and listens' positions refer
-- to them.
INSERT INTO events_partitioned OVERRIDING SYSTEM VALUE
    SELECT seq, id, source, type, subject, time, envelope, received_at FROM events;
INSERT INTO history_partitioned
    SELECT instance_id, seq, time, type, task, data FROM history;
DROP TABLE events;
DROP TABLE history;
ALTER TABLE events_partitioned RENAME TO events;
ALTER TABLE history_partitioned RENAME TO history;
ALTER SEQUENCE events_partitioned_seq_seq RENAME TO events_seq_seq;
SELECT setval(pg_get_serial_sequence('events', 'seq'), COALESCE(MAX(seq), 0) + 1, false) FROM events;

-- Indexes after the copy: building them once is cheaper than row by row.
-- Primary keys must include the partition key. seq alone stays unique as the
-- identity hands it out; (instance_id, seq) of history stays unique because
-- the instance row serialises the commits of one instance (applyChange).
ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY (seq, received_at);
CREATE INDEX events_source_id ON events (source, id);
CREATE INDEX events_type ON events (type, seq);
ALTER TABLE history ADD CONSTRAINT history_pkey PRIMARY KEY (instance_id, seq, time);

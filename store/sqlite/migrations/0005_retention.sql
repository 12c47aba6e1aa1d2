-- Retention deletes events and history older than a cutoff in small
-- batches (Store.Prune); these indexes let each batch find its rows without
-- scanning the tables.
CREATE INDEX events_received ON events (received_at);
CREATE INDEX history_time ON history (time);

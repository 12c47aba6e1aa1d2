-- A transition's history entries are one row (see historyrows.go): entries
-- counts them; rows written before hold one each.
ALTER TABLE history ADD COLUMN entries INTEGER NOT NULL DEFAULT 1;

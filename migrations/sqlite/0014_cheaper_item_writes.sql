-- Fewer writes per stored item (issue 19).
--
-- New items are counted once per poll by the poll that stores them, no longer by a trigger per
-- row: a trigger made each item's INSERT a statement that writes two tables, which SQLite
-- journals page by page in case it must be undone halfway (an eighth of the store's time in a
-- cold ingest). Deletes and moves stay counted by their triggers: they are rare, and a prune or
-- a takeover writes through them whatever removes or moves the item.
DROP TRIGGER items_counted;

-- The unique index on (source_id, key) finds a source's items as well: this one only cost a
-- write per item.
DROP INDEX items_by_source;

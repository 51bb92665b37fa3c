-- Fewer writes per stored item (issue 19), as in SQLite.
--
-- New items are counted once per poll by the poll that stores them, no longer by a trigger per
-- row: one UPDATE of the source per poll instead of one per item. Deletes and moves stay
-- counted by the trigger.
DROP TRIGGER items_counted ON items;
CREATE TRIGGER items_counted AFTER DELETE OR UPDATE OF source_id, sort_at ON items
    FOR EACH ROW EXECUTE FUNCTION count_source_items();

-- The unique index on (source_id, key) finds a source's items as well: this one only cost a
-- write per item.
DROP INDEX items_by_source;

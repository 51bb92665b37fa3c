-- New items are counted once per poll by the poll that stores them (issue 19), no longer by a
-- trigger per row, as in SQLite: one UPDATE of the source per poll instead of one per item.
-- Deletes and moves stay counted by the trigger.
DROP TRIGGER items_counted ON items;
CREATE TRIGGER items_counted AFTER DELETE OR UPDATE OF source_id, sort_at ON items
    FOR EACH ROW EXECUTE FUNCTION count_source_items();

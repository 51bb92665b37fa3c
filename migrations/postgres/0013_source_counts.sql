-- What `status` shows of each source's items, kept on its row (issue 19): counted once per
-- change instead of over every item at each `status` (seconds at 3,000,000 items). A trigger
-- keeps them whatever writes the items: a poll, a prune, an item taken over by another source.
ALTER TABLE sources ADD COLUMN item_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sources ADD COLUMN newest_item_at BIGINT;
UPDATE sources SET item_count = counted.items, newest_item_at = counted.newest
FROM (SELECT source_id, count(*) AS items, max(sort_at) AS newest FROM items GROUP BY source_id)
    AS counted
WHERE counted.source_id = sources.id;

CREATE FUNCTION count_source_items() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE sources SET item_count = item_count + 1,
            newest_item_at = GREATEST(newest_item_at, NEW.sort_at)
        WHERE id = NEW.source_id;
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        UPDATE sources SET item_count = item_count - 1,
            newest_item_at = (SELECT max(sort_at) FROM items WHERE source_id = OLD.source_id)
        WHERE id = OLD.source_id;
        RETURN NULL;
    END IF;
    UPDATE sources SET
        item_count = (SELECT count(*) FROM items WHERE source_id = sources.id),
        newest_item_at = (SELECT max(sort_at) FROM items WHERE source_id = sources.id)
    WHERE id IN (OLD.source_id, NEW.source_id);
    RETURN NULL;
END
$$;

CREATE TRIGGER items_counted AFTER INSERT OR DELETE OR UPDATE OF source_id, sort_at ON items
    FOR EACH ROW EXECUTE FUNCTION count_source_items();

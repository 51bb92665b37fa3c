-- What `status` shows of each source's items, kept on its row (issue 19): counted once per
-- change instead of over every item at each `status` (seconds at 3,000,000 items). Triggers
-- keep them whatever writes the items: a poll, a prune, an item taken over by another source.
ALTER TABLE sources ADD COLUMN item_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sources ADD COLUMN newest_item_at INTEGER;
UPDATE sources SET
    item_count = (SELECT count(*) FROM items WHERE source_id = sources.id),
    newest_item_at = (SELECT max(sort_at) FROM items WHERE source_id = sources.id);

CREATE TRIGGER items_counted AFTER INSERT ON items BEGIN
    UPDATE sources SET item_count = item_count + 1,
        newest_item_at = max(coalesce(newest_item_at, NEW.sort_at), NEW.sort_at)
    WHERE id = NEW.source_id;
END;

CREATE TRIGGER items_uncounted AFTER DELETE ON items BEGIN
    UPDATE sources SET item_count = item_count - 1,
        newest_item_at = (SELECT max(sort_at) FROM items WHERE source_id = OLD.source_id)
    WHERE id = OLD.source_id;
END;

CREATE TRIGGER items_recounted AFTER UPDATE OF source_id, sort_at ON items BEGIN
    UPDATE sources SET
        item_count = (SELECT count(*) FROM items WHERE source_id = sources.id),
        newest_item_at = (SELECT max(sort_at) FROM items WHERE source_id = sources.id)
    WHERE id IN (OLD.source_id, NEW.source_id);
END;

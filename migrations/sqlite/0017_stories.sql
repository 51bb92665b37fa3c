-- Stories (issue 38): the items of different sources that tell one story.
--
-- Each visible item's keys (the first words from anchors of its text, see `stories::text`),
-- by the day it sorts at: a new item looks up the stored items that share a key within
-- `[stories] within` of it, an index lookup whatever the size of the archive. Kept whether or
-- not stories are enabled, so that turning them on groups the archive without reading it.
CREATE TABLE story_keys (
    key     INTEGER NOT NULL,
    day     INTEGER NOT NULL,
    item_id INTEGER NOT NULL,
    PRIMARY KEY (key, day, item_id)
) WITHOUT ROWID;
-- Each keyed item's keys (a JSON array) and the day they are filed under, in one row: what
-- removing its keys and grouping the archive again read, at the cost of one row, not an index
-- entry per key.
CREATE TABLE story_items (
    item_id INTEGER PRIMARY KEY,
    day     INTEGER NOT NULL,
    keys    TEXT NOT NULL
);

-- An item joined to a story: `story` is the story's lead (its first stored item), which has
-- no row; `similarity` is with the item it was found beside. Items alone have no row.
CREATE TABLE stories (
    item_id    INTEGER PRIMARY KEY,
    story      INTEGER NOT NULL,
    similarity REAL NOT NULL
);
CREATE INDEX stories_by_story ON stories (story);

-- A grouping under way (the settings changed): made beside `stories`, a batch at a time, then
-- put in its place at once.
CREATE TABLE stories_next (
    item_id    INTEGER PRIMARY KEY,
    story      INTEGER NOT NULL,
    similarity REAL NOT NULL
);
CREATE INDEX stories_next_by_story ON stories_next (story);

-- Items whose keys may have changed (their text, date or visibility), keyed again by the
-- store after each of its writes; a new item is keyed by the poll that inserts it.
CREATE TABLE story_pending (
    item_id INTEGER PRIMARY KEY
);

CREATE TRIGGER story_item_changed AFTER UPDATE ON items
WHEN OLD.fingerprint IS NOT NEW.fingerprint OR OLD.sort_at IS NOT NEW.sort_at
    OR OLD.hidden IS NOT NEW.hidden OR OLD.rewritten IS NOT NEW.rewritten
    OR OLD.full_text IS NOT NEW.full_text
BEGIN
    INSERT OR IGNORE INTO story_pending (item_id) VALUES (NEW.id);
END;

-- An item deleted leaves its story; a lead deleted hands the story to its next member.
CREATE TRIGGER story_item_deleted AFTER DELETE ON items BEGIN
    DELETE FROM story_keys
    WHERE key IN (SELECT value FROM json_each(
                      (SELECT keys FROM story_items WHERE item_id = OLD.id)))
      AND day = (SELECT day FROM story_items WHERE item_id = OLD.id)
      AND item_id = OLD.id;
    DELETE FROM story_items WHERE item_id = OLD.id;
    DELETE FROM stories WHERE item_id = OLD.id;
    UPDATE stories SET story = (SELECT MIN(item_id) FROM stories WHERE story = OLD.id)
    WHERE story = OLD.id
      AND item_id > (SELECT MIN(item_id) FROM stories WHERE story = OLD.id);
    DELETE FROM stories WHERE story = OLD.id;
END;

-- A story's members show on its lead's entry: the outputs write it again when they change.
CREATE TRIGGER story_joined AFTER INSERT ON stories BEGIN
    INSERT INTO item_changes (item_id) VALUES (NEW.story);
    INSERT INTO item_changes (item_id) VALUES (NEW.item_id);
END;

CREATE TRIGGER story_left AFTER DELETE ON stories BEGIN
    INSERT INTO item_changes (item_id) VALUES (OLD.story);
    INSERT INTO item_changes (item_id) VALUES (OLD.item_id);
END;

CREATE TRIGGER story_moved AFTER UPDATE ON stories BEGIN
    INSERT INTO item_changes (item_id) VALUES (NEW.story);
    INSERT INTO item_changes (item_id) VALUES (NEW.item_id);
END;

-- Every stored item, keyed at the first start after this migration.
INSERT INTO story_pending (item_id) SELECT id FROM items WHERE hidden IS NULL;

-- Search (issue 37).
--
-- The index of what readers see: each visible item's words, folded by Tributary (case and
-- accents dropped, split at every character that is not a letter or a digit) and written
-- joined by spaces, which the `ascii` tokenizer splits back unchanged, so that SQLite,
-- PostgreSQL and the matcher of saved searches see the same words. Contentless: the text is
-- in `items` already; the index holds the words and their positions only, and rows are
-- deleted by id. Hidden items are not in it.
CREATE VIRTUAL TABLE item_search USING fts5 (
    title, author, publisher, body,
    content = '', contentless_delete = 1, tokenize = 'ascii', detail = full
);
-- A word of the title weighs most, then the authors and the publisher, then the text.
INSERT INTO item_search (item_search, rank) VALUES ('rank', 'bm25(4.0, 2.0, 2.0, 1.0)');

-- Items whose words may have changed, indexed again by the store after each of its writes
-- (a new item is indexed by the poll that inserts it; every other change is noted here by
-- these triggers). A crash between the write and the index leaves them here for the next
-- start.
CREATE TABLE search_pending (
    item_id INTEGER PRIMARY KEY
);

CREATE TRIGGER search_item_changed AFTER UPDATE ON items
WHEN OLD.fingerprint IS NOT NEW.fingerprint OR OLD.sort_at IS NOT NEW.sort_at
    OR OLD.source_id IS NOT NEW.source_id OR OLD.hidden IS NOT NEW.hidden
    OR OLD.tags IS NOT NEW.tags OR OLD.rewritten IS NOT NEW.rewritten
    OR OLD.full_text IS NOT NEW.full_text
BEGIN
    INSERT OR IGNORE INTO search_pending (item_id) VALUES (NEW.id);
END;

CREATE TRIGGER search_item_deleted AFTER DELETE ON items BEGIN
    INSERT OR IGNORE INTO search_pending (item_id) VALUES (OLD.id);
END;

CREATE TRIGGER search_publisher_renamed AFTER UPDATE ON sources
WHEN OLD.name IS NOT NEW.name OR OLD.feed_title IS NOT NEW.feed_title OR OLD.url IS NOT NEW.url
BEGIN
    INSERT OR IGNORE INTO search_pending (item_id) SELECT id FROM items WHERE source_id = NEW.id;
END;

-- Saved searches (`[[outputs]] query`): the items each one matches, kept as items are indexed,
-- so that its output reads them as any output reads its items.
CREATE TABLE saved_searches (
    query TEXT PRIMARY KEY
);
CREATE TABLE saved_matches (
    query   TEXT NOT NULL,
    sort_at INTEGER NOT NULL,
    item_id INTEGER NOT NULL,
    PRIMARY KEY (query, sort_at, item_id)
);
CREATE INDEX saved_matches_by_item ON saved_matches (item_id);

-- Every stored item, indexed at the first start after this migration.
INSERT INTO search_pending (item_id) SELECT id FROM items WHERE hidden IS NULL;

-- Work that follows the change (issue 36).
--
-- What changed since the outputs were last written: a row per change of an item, consumed by
-- the render that wrote it. New items are logged once per poll by the poll that stores them
-- (as they are counted: see 0014); every other change, whatever makes it (an update, a rule,
-- a full text, a prune, a takeover, a renamed publisher), by these triggers.
CREATE TABLE item_changes (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id INTEGER NOT NULL
);

CREATE TRIGGER item_changed AFTER UPDATE ON items
WHEN OLD.fingerprint IS NOT NEW.fingerprint OR OLD.published IS NOT NEW.published
    OR OLD.updated IS NOT NEW.updated OR OLD.sort_at IS NOT NEW.sort_at
    OR OLD.source_id IS NOT NEW.source_id OR OLD.public_id IS NOT NEW.public_id
    OR OLD.hidden IS NOT NEW.hidden OR OLD.tags IS NOT NEW.tags
    OR OLD.rewritten IS NOT NEW.rewritten OR OLD.full_text IS NOT NEW.full_text
BEGIN
    INSERT INTO item_changes (item_id) VALUES (NEW.id);
END;

CREATE TRIGGER item_deleted AFTER DELETE ON items BEGIN
    INSERT INTO item_changes (item_id) VALUES (OLD.id);
END;

CREATE TRIGGER item_carried AFTER INSERT ON item_sources BEGIN
    INSERT INTO item_changes (item_id) VALUES (NEW.item_id);
END;

CREATE TRIGGER item_uncarried AFTER DELETE ON item_sources BEGIN
    INSERT INTO item_changes (item_id) VALUES (OLD.item_id);
END;

-- A publisher's name or links show on every item it published or also carried.
CREATE TRIGGER publisher_changed AFTER UPDATE ON sources
WHEN OLD.name IS NOT NEW.name OR OLD.feed_title IS NOT NEW.feed_title
    OR OLD.feed_link IS NOT NEW.feed_link OR OLD.feed_id IS NOT NEW.feed_id
    OR OLD.feed_description IS NOT NEW.feed_description OR OLD.url IS NOT NEW.url
BEGIN
    INSERT INTO item_changes (item_id) SELECT id FROM items WHERE source_id = NEW.id;
    INSERT INTO item_changes (item_id) SELECT item_id FROM item_sources WHERE source_id = NEW.id;
END;

-- Where each item of the site was when it was last written: what a render compares a change
-- with to know which pages it touches, without reading any item's content.
CREATE TABLE site_items (
    item_id   INTEGER PRIMARY KEY,
    public_id TEXT NOT NULL,
    source_id INTEGER NOT NULL,
    sort_at   INTEGER NOT NULL,
    tags      TEXT NOT NULL       -- JSON: its source's tags, then its own
);
CREATE INDEX site_items_in_order ON site_items (sort_at, item_id);
CREATE INDEX site_items_by_source ON site_items (source_id, sort_at, item_id);

CREATE TABLE site_tags (
    tag     TEXT NOT NULL,
    sort_at INTEGER NOT NULL,
    item_id INTEGER NOT NULL,
    PRIMARY KEY (tag, sort_at, item_id)
);

-- A publisher's page keeps the name it was first given, whatever it is renamed to later;
-- its count of items on the site is kept as they are placed (the list of publishers reads
-- it, not a million rows).
CREATE TABLE site_publishers (
    source_id INTEGER PRIMARY KEY,
    slug      TEXT UNIQUE,
    items     INTEGER NOT NULL DEFAULT 0,   -- its items on the site, kept as they are placed
    newest    INTEGER                       -- when the newest of them sorts
);

-- What each source contributed to the site (its tags, which outputs take it), as a digest.
CREATE TABLE site_sources (
    url    TEXT PRIMARY KEY,
    digest TEXT NOT NULL
);

-- What the outputs and the site were last written from: digests of the config and templates,
-- of each output file, and the token the site's folder holds.
CREATE TABLE render_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Items you can trust: an id minted once by Tributary and used by every output; every upstream
-- key seen for an item (its own key, and "canon:" + its canonical link) mapped to it per source;
-- the other sources that carried the same article; a record of what was pruned, so that it is
-- never ingested again. public_id and the canon: keys of existing items are filled in by the
-- migration's Rust step.
ALTER TABLE items ADD COLUMN public_id TEXT;
ALTER TABLE items ADD COLUMN content_updates INTEGER NOT NULL DEFAULT 0;

CREATE TABLE item_keys (
    source_id INTEGER NOT NULL REFERENCES sources (id),
    key       TEXT NOT NULL,
    item_id   INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    PRIMARY KEY (source_id, key)
) WITHOUT ROWID;
CREATE INDEX item_keys_by_key ON item_keys (key);
CREATE INDEX item_keys_by_item ON item_keys (item_id);
INSERT INTO item_keys (source_id, key, item_id) SELECT source_id, key, id FROM items;

-- Sources other than the item's own that carried the same article.
CREATE TABLE item_sources (
    item_id    INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    source_id  INTEGER NOT NULL REFERENCES sources (id),
    first_seen INTEGER NOT NULL,
    PRIMARY KEY (item_id, source_id)
) WITHOUT ROWID;

-- Keys of items pruned by retention or left out of a new source's first fetch.
CREATE TABLE pruned_keys (
    source_id INTEGER NOT NULL,
    key       TEXT NOT NULL,
    pruned_at INTEGER NOT NULL,
    PRIMARY KEY (source_id, key)
) WITHOUT ROWID;

CREATE INDEX items_by_source ON items (source_id);

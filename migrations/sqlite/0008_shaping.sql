-- Shaping what goes out: rules, rewrites, full text. An item's own columns keep what its
-- publisher gave (sanitized); what rules and rewrites make of it sits beside them, and is made
-- again from them whenever the rules change, so that no rewrite is ever applied twice.
ALTER TABLE items ADD COLUMN hidden TEXT;                      -- why it is written nowhere; NULL: written
ALTER TABLE items ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';  -- JSON: the tags rules gave it
ALTER TABLE items ADD COLUMN rewritten TEXT;                   -- JSON {title, summary, content, link}; NULL: none
ALTER TABLE items ADD COLUMN recheck_at INTEGER;               -- a rule's date condition decides otherwise then
CREATE INDEX items_recheck ON items (recheck_at) WHERE recheck_at IS NOT NULL;

-- The article fetched from the item's page (sanitized HTML), written as its content; the
-- feed's own content stays beside it. Wanted for new items of sources with full_text.
ALTER TABLE items ADD COLUMN full_text TEXT;
ALTER TABLE items ADD COLUMN full_text_wanted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE items ADD COLUMN full_text_tries INTEGER NOT NULL DEFAULT 0;
ALTER TABLE items ADD COLUMN full_text_after INTEGER;
ALTER TABLE items ADD COLUMN full_text_error TEXT;             -- why the last attempt failed
CREATE INDEX items_full_text ON items (full_text_after) WHERE full_text_wanted = 1;
CREATE INDEX items_full_text_failed ON items (source_id) WHERE full_text_error IS NOT NULL;

-- What the store must remember beside items: the digest of the rules items were shaped by.
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

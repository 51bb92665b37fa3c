-- What an item says beside its text, carried to the outputs: what the feed calls its own page
-- (Atom's link title), and its other links (related, via, license, replies…).
ALTER TABLE items ADD COLUMN link_title TEXT;
ALTER TABLE items ADD COLUMN links TEXT NOT NULL DEFAULT '[]';  -- JSON [{href, rel, media_type, title}]

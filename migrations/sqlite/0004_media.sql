-- What outputs carry beside the text: enclosures (podcasts), categories and an image.
ALTER TABLE items ADD COLUMN enclosures TEXT NOT NULL DEFAULT '[]';  -- JSON [{url, mime_type, length}]
ALTER TABLE items ADD COLUMN categories TEXT NOT NULL DEFAULT '[]';  -- JSON ["…"]
ALTER TABLE items ADD COLUMN image TEXT;

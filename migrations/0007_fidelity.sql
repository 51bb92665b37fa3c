-- What the feed calls an item's own page (Atom's link title), carried to the outputs.
ALTER TABLE items ADD COLUMN link_title TEXT;

-- Search (issue 37), as in SQLite: each visible item's words, folded by Tributary, as a
-- weighted `tsvector` (title A, authors B, publisher C, text D) under a GIN index.
CREATE TABLE item_search (
    item_id BIGINT PRIMARY KEY,
    doc     tsvector NOT NULL
);
CREATE INDEX item_search_words ON item_search USING GIN (doc);

CREATE TABLE search_pending (
    item_id BIGINT PRIMARY KEY
);

CREATE FUNCTION search_item_pending() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO search_pending (item_id) VALUES (OLD.id) ON CONFLICT DO NOTHING;
    ELSE
        INSERT INTO search_pending (item_id) VALUES (NEW.id) ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER search_item_changed AFTER UPDATE ON items FOR EACH ROW
WHEN (OLD.fingerprint IS DISTINCT FROM NEW.fingerprint OR OLD.sort_at IS DISTINCT FROM NEW.sort_at
    OR OLD.source_id IS DISTINCT FROM NEW.source_id OR OLD.hidden IS DISTINCT FROM NEW.hidden
    OR OLD.tags IS DISTINCT FROM NEW.tags OR OLD.rewritten IS DISTINCT FROM NEW.rewritten
    OR OLD.full_text IS DISTINCT FROM NEW.full_text)
EXECUTE FUNCTION search_item_pending();

CREATE TRIGGER search_item_deleted AFTER DELETE ON items FOR EACH ROW
EXECUTE FUNCTION search_item_pending();

CREATE FUNCTION search_publisher_pending() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_pending (item_id) SELECT id FROM items WHERE source_id = NEW.id
        ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

CREATE TRIGGER search_publisher_renamed AFTER UPDATE ON sources FOR EACH ROW
WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.feed_title IS DISTINCT FROM NEW.feed_title
    OR OLD.url IS DISTINCT FROM NEW.url)
EXECUTE FUNCTION search_publisher_pending();

CREATE TABLE saved_searches (
    query TEXT PRIMARY KEY
);
CREATE TABLE saved_matches (
    query   TEXT NOT NULL,
    sort_at BIGINT NOT NULL,
    item_id BIGINT NOT NULL,
    PRIMARY KEY (query, sort_at, item_id)
);
CREATE INDEX saved_matches_by_item ON saved_matches (item_id);

INSERT INTO search_pending (item_id) SELECT id FROM items WHERE hidden IS NULL;

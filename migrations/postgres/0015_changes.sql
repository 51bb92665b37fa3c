-- Work that follows the change (issue 36), as in SQLite.
CREATE TABLE item_changes (
    seq     BIGSERIAL PRIMARY KEY,
    item_id BIGINT NOT NULL
);

CREATE FUNCTION log_item_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO item_changes (item_id) VALUES (OLD.id);
    ELSE
        INSERT INTO item_changes (item_id) VALUES (NEW.id);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER item_changed AFTER UPDATE ON items FOR EACH ROW
WHEN (OLD.fingerprint IS DISTINCT FROM NEW.fingerprint OR OLD.published IS DISTINCT FROM NEW.published
    OR OLD.updated IS DISTINCT FROM NEW.updated OR OLD.sort_at IS DISTINCT FROM NEW.sort_at
    OR OLD.source_id IS DISTINCT FROM NEW.source_id OR OLD.public_id IS DISTINCT FROM NEW.public_id
    OR OLD.hidden IS DISTINCT FROM NEW.hidden OR OLD.tags IS DISTINCT FROM NEW.tags
    OR OLD.rewritten IS DISTINCT FROM NEW.rewritten OR OLD.full_text IS DISTINCT FROM NEW.full_text)
EXECUTE FUNCTION log_item_change();

CREATE TRIGGER item_deleted AFTER DELETE ON items FOR EACH ROW EXECUTE FUNCTION log_item_change();

CREATE FUNCTION log_carrier_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO item_changes (item_id) VALUES (OLD.item_id);
    ELSE
        INSERT INTO item_changes (item_id) VALUES (NEW.item_id);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER item_carried AFTER INSERT OR DELETE ON item_sources
    FOR EACH ROW EXECUTE FUNCTION log_carrier_change();

CREATE FUNCTION log_publisher_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO item_changes (item_id) SELECT id FROM items WHERE source_id = NEW.id;
    INSERT INTO item_changes (item_id) SELECT item_id FROM item_sources WHERE source_id = NEW.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER publisher_changed AFTER UPDATE ON sources FOR EACH ROW
WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.feed_title IS DISTINCT FROM NEW.feed_title
    OR OLD.feed_link IS DISTINCT FROM NEW.feed_link OR OLD.feed_id IS DISTINCT FROM NEW.feed_id
    OR OLD.feed_description IS DISTINCT FROM NEW.feed_description OR OLD.url IS DISTINCT FROM NEW.url)
EXECUTE FUNCTION log_publisher_change();

CREATE TABLE site_items (
    item_id   BIGINT PRIMARY KEY,
    public_id TEXT NOT NULL,
    source_id BIGINT NOT NULL,
    sort_at   BIGINT NOT NULL,
    tags      TEXT NOT NULL
);
CREATE INDEX site_items_in_order ON site_items (sort_at, item_id);
CREATE INDEX site_items_by_source ON site_items (source_id, sort_at, item_id);

CREATE TABLE site_tags (
    tag     TEXT NOT NULL,
    sort_at BIGINT NOT NULL,
    item_id BIGINT NOT NULL,
    PRIMARY KEY (tag, sort_at, item_id)
);

CREATE TABLE site_publishers (
    source_id BIGINT PRIMARY KEY,
    slug      TEXT UNIQUE,
    items     BIGINT NOT NULL DEFAULT 0,   -- its items on the site, kept as they are placed
    newest    BIGINT                       -- when the newest of them sorts
);

CREATE TABLE site_sources (
    url    TEXT PRIMARY KEY,
    digest TEXT NOT NULL
);

CREATE TABLE render_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

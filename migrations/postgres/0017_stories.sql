-- Stories (issue 38), as in SQLite: each visible item's keys, the stories' members, and the
-- items to key again.
CREATE TABLE story_keys (
    key     BIGINT NOT NULL,
    day     BIGINT NOT NULL,
    item_id BIGINT NOT NULL,
    PRIMARY KEY (key, day, item_id)
);
CREATE TABLE story_items (
    item_id BIGINT PRIMARY KEY,
    day     BIGINT NOT NULL,
    keys    TEXT NOT NULL
);

CREATE TABLE stories (
    item_id    BIGINT PRIMARY KEY,
    story      BIGINT NOT NULL,
    similarity DOUBLE PRECISION NOT NULL
);
CREATE INDEX stories_by_story ON stories (story);

-- A grouping under way (the settings changed): made beside `stories`, a batch at a time, then
-- put in its place at once.
CREATE TABLE stories_next (
    item_id    BIGINT PRIMARY KEY,
    story      BIGINT NOT NULL,
    similarity DOUBLE PRECISION NOT NULL
);
CREATE INDEX stories_next_by_story ON stories_next (story);

CREATE TABLE story_pending (
    item_id BIGINT PRIMARY KEY
);

CREATE FUNCTION story_item_pending() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO story_pending (item_id) VALUES (NEW.id) ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

CREATE TRIGGER story_item_changed AFTER UPDATE ON items FOR EACH ROW
WHEN (OLD.fingerprint IS DISTINCT FROM NEW.fingerprint OR OLD.sort_at IS DISTINCT FROM NEW.sort_at
    OR OLD.hidden IS DISTINCT FROM NEW.hidden OR OLD.rewritten IS DISTINCT FROM NEW.rewritten
    OR OLD.full_text IS DISTINCT FROM NEW.full_text)
EXECUTE FUNCTION story_item_pending();

-- An item deleted leaves its story; a lead deleted hands the story to its next member.
CREATE FUNCTION story_item_gone() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE next_lead BIGINT;
BEGIN
    DELETE FROM story_keys k USING story_items s
    WHERE s.item_id = OLD.id AND k.item_id = OLD.id AND k.day = s.day
      AND k.key IN (SELECT CAST(value AS BIGINT) FROM jsonb_array_elements_text(CAST(s.keys AS jsonb)));
    DELETE FROM story_items WHERE item_id = OLD.id;
    DELETE FROM stories WHERE item_id = OLD.id;
    SELECT MIN(item_id) INTO next_lead FROM stories WHERE story = OLD.id;
    IF next_lead IS NOT NULL THEN
        DELETE FROM stories WHERE item_id = next_lead;
        UPDATE stories SET story = next_lead WHERE story = OLD.id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER story_item_deleted AFTER DELETE ON items FOR EACH ROW
EXECUTE FUNCTION story_item_gone();

CREATE FUNCTION story_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO item_changes (item_id) VALUES (OLD.story), (OLD.item_id);
    ELSE
        INSERT INTO item_changes (item_id) VALUES (NEW.story), (NEW.item_id);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER story_members_changed AFTER INSERT OR UPDATE OR DELETE ON stories FOR EACH ROW
EXECUTE FUNCTION story_changed();

INSERT INTO story_pending (item_id) SELECT id FROM items WHERE hidden IS NULL;

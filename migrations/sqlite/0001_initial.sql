-- Sources are identified by their URL as written in the config; their name and what the feed
-- says of itself are refreshed on every poll.
CREATE TABLE sources (
    id                   INTEGER PRIMARY KEY,
    url                  TEXT NOT NULL UNIQUE,
    name                 TEXT,
    feed_title           TEXT,
    feed_link            TEXT,
    feed_id              TEXT,
    last_poll_at         INTEGER,
    last_success_at      INTEGER,
    last_status          TEXT,
    last_error           TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0
);

-- One row per item per source, identified within its source by `key`: guid, else link, else a
-- hash of title and date. Times are Unix seconds (UTC).
CREATE TABLE items (
    id           INTEGER PRIMARY KEY,
    source_id    INTEGER NOT NULL REFERENCES sources (id),
    key          TEXT NOT NULL,
    guid         TEXT,
    link         TEXT,
    title        TEXT,
    summary      TEXT,
    summary_html INTEGER NOT NULL DEFAULT 0,
    content      TEXT,
    content_html INTEGER NOT NULL DEFAULT 0,
    authors      TEXT NOT NULL DEFAULT '[]',
    published    INTEGER,
    updated      INTEGER,
    first_seen   INTEGER NOT NULL,
    -- The position in the merged feed: the publication date, but never later than first_seen,
    -- so that an item dated in the future cannot pin itself to the top.
    sort_at      INTEGER NOT NULL,
    -- Fingerprint of what a reader sees (title, link, texts, authors), to tell updates apart.
    fingerprint  TEXT NOT NULL,
    UNIQUE (source_id, key)
);

CREATE INDEX items_newest ON items (sort_at DESC, id DESC);

-- What a source's publisher asked for and how its polls went, kept across restarts and across
-- separate `once` runs: validators, hints, backoff, Retry-After, gone, moved, discovered.
ALTER TABLE sources ADD COLUMN etag TEXT;
ALTER TABLE sources ADD COLUMN last_modified TEXT;
ALTER TABLE sources ADD COLUMN hint_interval INTEGER;      -- seconds
ALTER TABLE sources ADD COLUMN skip_hours TEXT NOT NULL DEFAULT '';   -- comma-separated 0-23
ALTER TABLE sources ADD COLUMN skip_days TEXT NOT NULL DEFAULT '';    -- comma-separated, 0 = Monday
ALTER TABLE sources ADD COLUMN retry_after_until INTEGER;
ALTER TABLE sources ADD COLUMN gone_since INTEGER;
ALTER TABLE sources ADD COLUMN adopted_url TEXT;
ALTER TABLE sources ADD COLUMN redirect_target TEXT;
ALTER TABLE sources ADD COLUMN redirect_seen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sources ADD COLUMN discovered_url TEXT;
ALTER TABLE sources ADD COLUMN next_poll_at INTEGER;
ALTER TABLE sources ADD COLUMN next_poll_reason TEXT;

-- Changes in a source's state (started failing, recovered, gone, moved, rate limited for
-- long), for the health feed.
CREATE TABLE source_events (
    id        INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES sources (id),
    at        INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    message   TEXT NOT NULL
);
CREATE INDEX source_events_newest ON source_events (at DESC, id DESC);

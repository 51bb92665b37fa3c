-- Several instances on one database (issue 19). A source is polled under a lease: the instance
-- that claims it (`lease_owner`) holds it until `lease_until` or until its poll is recorded;
-- an instance that dies loses its leases when they run out. `last_polled_by` says who polled
-- it last, for `status`. Used on PostgreSQL.
ALTER TABLE sources ADD COLUMN lease_owner TEXT;
ALTER TABLE sources ADD COLUMN lease_until BIGINT;
ALTER TABLE sources ADD COLUMN last_polled_by TEXT;
-- An instance renews the leases it holds as it goes: the sources it holds, found at once.
CREATE INDEX sources_by_lease_owner ON sources (lease_owner) WHERE lease_owner IS NOT NULL;

-- The instances that ran on this database: each writes `seen_at` as it goes, and counts in
-- `changes` the polls that changed what the outputs show, for the leader to render them.
CREATE TABLE instances (
    id         TEXT PRIMARY KEY,
    host       TEXT NOT NULL,
    pid        BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    seen_at    BIGINT NOT NULL,
    changes    BIGINT NOT NULL DEFAULT 0
);

-- Who renders the outputs and serves WebSub and webhooks: one row per role, held until `until`
-- and renewed by its holder; another instance takes it once it has run out.
CREATE TABLE leadership (
    role  TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    until BIGINT NOT NULL
);

-- Real time (issue 17): WebSub subscriptions to publishers' hubs, and webhooks' queues.

-- The hub and topic a source's feed (or its response's Link headers) last advertised.
ALTER TABLE sources ADD COLUMN websub_hub TEXT;
ALTER TABLE sources ADD COLUMN websub_topic TEXT;

-- One row per subscription Tributary asked a hub for; `id` is the last part of its callback
-- URL, `secret` signs what the hub delivers. `asked` is the mode ('subscribe' or
-- 'unsubscribe') the hub has yet to verify: a verification of anything else is refused.
-- `removing`: the source left the config (or its hub changed); unsubscribed, then deleted.
-- `unhealthy`: why push is not trusted now (the source is polled at its own interval).
CREATE TABLE subscriptions (
    id            TEXT PRIMARY KEY,
    source_url    TEXT NOT NULL,
    hub           TEXT NOT NULL,
    topic         TEXT NOT NULL,
    secret        TEXT NOT NULL,
    asked         TEXT,
    asked_at      INTEGER,
    removing      INTEGER NOT NULL DEFAULT 0,
    verified_at   INTEGER,
    lease_until   INTEGER,
    unhealthy     TEXT,
    retry_at      INTEGER,
    tries         INTEGER NOT NULL DEFAULT 0,
    last_push_at  INTEGER,
    callback      TEXT NOT NULL
);
CREATE INDEX subscriptions_source ON subscriptions (source_url);

-- New items a webhook is to be told of, written in the same transaction as the items, so
-- that a crash loses none; packed into a delivery by the sender.
CREATE TABLE webhook_items (
    webhook TEXT NOT NULL,
    item_id INTEGER NOT NULL,
    PRIMARY KEY (webhook, item_id)
) WITHOUT ROWID;

-- Deliveries, in order per webhook (by id); the body is made once, so a retry sends the same
-- bytes with the same signature.
CREATE TABLE webhook_deliveries (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook     TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    body        BLOB NOT NULL,
    items       INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    tries       INTEGER NOT NULL DEFAULT 0,
    next_try_at INTEGER NOT NULL,
    last_error  TEXT
);
CREATE INDEX webhook_deliveries_queue ON webhook_deliveries (webhook, id);

-- How each webhook's deliveries went, for `status`.
CREATE TABLE webhooks (
    url               TEXT PRIMARY KEY,
    last_delivered_at INTEGER,
    last_error        TEXT,
    last_error_at     INTEGER
);

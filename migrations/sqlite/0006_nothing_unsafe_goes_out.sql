-- Nothing unsafe goes out: what was stored before Tributary checked it is made as it would be
-- ingested today. Dates here; URLs and text lengths in the migration's Rust step.
--
-- An item's last update is never in the future (beyond ten minutes of clock skew: dropped),
-- never before 1995 (dropped), never before its publication, never after now.
UPDATE items SET updated = NULL
 WHERE updated IS NOT NULL
   AND (updated < 788918400 OR updated > CAST(strftime('%s', 'now') AS INTEGER) + 600);
UPDATE items SET updated = min(updated, CAST(strftime('%s', 'now') AS INTEGER))
 WHERE updated IS NOT NULL;
UPDATE items SET updated = published
 WHERE updated IS NOT NULL AND published IS NOT NULL AND updated < published;

-- `tributary pause`: since when a source is not polled, whatever its schedule; NULL: polled.
-- Apart from the polling state, which polls write: a poll in flight never undoes a pause.
ALTER TABLE sources ADD COLUMN paused_at INTEGER;

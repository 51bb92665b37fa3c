-- The site: a publisher's page says what its feed says it is about.
ALTER TABLE sources ADD COLUMN feed_description TEXT;

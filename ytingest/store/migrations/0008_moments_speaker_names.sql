-- Each chunk's words: [[offset in text, start s, end s, local speaker, opens a sentence/segment/turn], ...],
-- so a hit lands on the moment its words are spoken. NULL for chunks written before this column.
ALTER TABLE chunks ADD COLUMN marks jsonb;

-- A name picks one speaker (search --speaker NAME, transcripts): unique regardless of case.
CREATE UNIQUE INDEX speakers_name_unique ON speakers (lower(name)) WHERE name IS NOT NULL;

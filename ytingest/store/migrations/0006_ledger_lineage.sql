-- A video's partition date is given once, when it is first seen, and never moves; better dates found
-- later update published_at/published_date as data only.
ALTER TABLE videos ADD COLUMN partition_date date;
UPDATE videos SET partition_date = published_date;
CREATE INDEX videos_partition_date ON videos (partition_date);

-- Lineage: each success gets a fresh revision; a step records the revisions of the upstream steps it
-- read, and is redone when its own version or any of those changed.
CREATE SEQUENCE video_step_revisions;
ALTER TABLE video_steps
    ADD COLUMN revision  bigint,
    ADD COLUMN inputs    jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN permanent boolean NOT NULL DEFAULT false;  -- removed, private: no retry will help

-- Diarization's speaker for each transcript segment (and its words), kept apart from the transcript:
-- a new transcript drops the old assignment with it, and diarization redoes it from the new text.
CREATE TABLE segment_speakers (
    video_id      text NOT NULL,
    idx           integer NOT NULL,
    speaker       text,
    word_speakers text[],
    PRIMARY KEY (video_id, idx),
    FOREIGN KEY (video_id, idx) REFERENCES transcript_segments (video_id, idx) ON DELETE CASCADE
);
INSERT INTO segment_speakers (video_id, idx, speaker)
    SELECT video_id, idx, speaker FROM transcript_segments WHERE speaker IS NOT NULL;
ALTER TABLE transcript_segments DROP COLUMN speaker;

-- A feed that keeps failing, visible in `channels list`.
ALTER TABLE channels
    ADD COLUMN poll_error       text,
    ADD COLUMN poll_failing_since timestamptz;

-- A global speaker's exact sum of member voices (unit vectors), so that a re-run can take a video's
-- old voices out; `centroid` is its direction. NULL for speakers made before: taken as centroid x videos.
ALTER TABLE speakers ADD COLUMN total vector;

-- A removed channel is no longer polled nor offered as a partition; its data stays unless deleted.
ALTER TABLE channels ADD COLUMN removed_at timestamptz;

-- Transcripts, diarization, voice embeddings with a cross-video speaker registry, and text chunks.

CREATE TABLE transcripts (
    video_id       text PRIMARY KEY REFERENCES videos (video_id) ON DELETE CASCADE,
    source         text NOT NULL CHECK (source IN ('captions', 'asr')),
    caption_kind   text CHECK (caption_kind IN ('manual', 'automatic')),
    language       text,
    model          text,
    audio_seconds  double precision NOT NULL,
    speech_seconds double precision NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE transcript_segments (
    video_id text NOT NULL REFERENCES transcripts (video_id) ON DELETE CASCADE,
    idx      integer NOT NULL,
    start_s  double precision NOT NULL,
    end_s    double precision NOT NULL,
    text     text NOT NULL,
    words    jsonb,  -- [[start, end, word, speaker], ...] where the source has word times
    speaker  text,   -- the video-local diarization label with the most overlap
    PRIMARY KEY (video_id, idx),
    CHECK (end_s >= start_s)
);

-- One row per diarized video, so "ran and found nobody" differs from "not run".
CREATE TABLE diarizations (
    video_id   text PRIMARY KEY REFERENCES videos (video_id) ON DELETE CASCADE,
    model      text NOT NULL,
    speakers   integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Both views pyannote gives: `exclusive` turns (one speaker at a time) align with the transcript.
CREATE TABLE speaker_turns (
    video_id  text NOT NULL REFERENCES diarizations (video_id) ON DELETE CASCADE,
    exclusive boolean NOT NULL,
    idx       integer NOT NULL,
    start_s   double precision NOT NULL,
    end_s     double precision NOT NULL,
    speaker   text NOT NULL,
    PRIMARY KEY (video_id, exclusive, idx),
    CHECK (end_s >= start_s)
);

-- Global speakers: one voice across videos gets one id.
CREATE TABLE speakers (
    speaker_id bigserial PRIMARY KEY,
    model      text NOT NULL,
    centroid   vector NOT NULL,
    videos     integer NOT NULL DEFAULT 0,
    name       text,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE voice_embeddings (
    video_id   text NOT NULL REFERENCES videos (video_id) ON DELETE CASCADE,
    speaker    text NOT NULL,
    model      text NOT NULL,
    seconds    double precision NOT NULL,
    embedding  vector NOT NULL,
    speaker_id bigint REFERENCES speakers (speaker_id),
    similarity real,
    PRIMARY KEY (video_id, speaker)
);

-- One table serves several embedding models: the vector column is untyped, and each model gets a
-- partial HNSW expression index on (embedding::vector(dim)) WHERE model = ..., created on first use.
CREATE TABLE chunks (
    chunk_id    bigserial PRIMARY KEY,
    video_id    text NOT NULL REFERENCES videos (video_id) ON DELETE CASCADE,
    model       text NOT NULL,
    idx         integer NOT NULL,
    start_s     double precision NOT NULL,
    end_s       double precision NOT NULL,
    speakers    text[] NOT NULL DEFAULT '{}',
    token_count integer NOT NULL,
    text        text NOT NULL,
    embedding   vector NOT NULL,
    tsv         tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
    UNIQUE (video_id, model, idx)
);
CREATE INDEX chunks_tsv ON chunks USING gin (tsv);

CREATE TABLE embedding_models (
    model      text PRIMARY KEY,
    dimensions integer NOT NULL,
    index_name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- What produced a step's output (model and settings that change it): a re-run redoes a video only
-- when this changed or the step did not succeed.
ALTER TABLE video_steps ADD COLUMN version text;

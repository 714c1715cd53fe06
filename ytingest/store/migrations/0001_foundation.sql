-- Channels, videos, audio and per-video step outcomes.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE channels (
    key                text PRIMARY KEY,
    url                text NOT NULL UNIQUE,
    kind               text NOT NULL CHECK (kind IN ('youtube_channel', 'youtube_playlist', 'feed', 'other')),
    feed_url           text,
    youtube_channel_id text,
    title              text,
    origin             text NOT NULL DEFAULT 'cli',
    added_at           timestamptz NOT NULL DEFAULT now(),
    listed_at          timestamptz
);

-- A video is stored once even when several channels (a channel and a playlist) list it.
CREATE TABLE videos (
    video_id         text PRIMARY KEY,
    source_id        text NOT NULL,
    url              text NOT NULL,
    media_url        text,
    title            text NOT NULL,
    published_at     timestamptz,
    published_date   date,
    date_exact       boolean NOT NULL DEFAULT false,
    duration_seconds double precision,
    first_seen_at    timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX videos_published_date ON videos (published_date);

CREATE TABLE channel_videos (
    channel_key text NOT NULL REFERENCES channels (key) ON DELETE CASCADE,
    video_id    text NOT NULL REFERENCES videos (video_id) ON DELETE CASCADE,
    PRIMARY KEY (channel_key, video_id)
);
CREATE INDEX channel_videos_video ON channel_videos (video_id);

CREATE TABLE audio (
    video_id         text PRIMARY KEY REFERENCES videos (video_id) ON DELETE CASCADE,
    path             text NOT NULL,
    sample_rate      integer NOT NULL,
    channels         integer NOT NULL,
    duration_seconds double precision NOT NULL,
    sha256           text NOT NULL,
    bytes            bigint NOT NULL,
    source_url       text NOT NULL,
    downloaded_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE captions (
    video_id text NOT NULL REFERENCES videos (video_id) ON DELETE CASCADE,
    language text NOT NULL,
    kind     text NOT NULL CHECK (kind IN ('manual', 'automatic')),
    format   text NOT NULL,
    path     text NOT NULL,
    sha256   text NOT NULL,
    PRIMARY KEY (video_id, language, kind, format)
);

-- The outcome of each asset for each video: what failed, why, and how often it was tried.
CREATE TABLE video_steps (
    video_id   text NOT NULL REFERENCES videos (video_id) ON DELETE CASCADE,
    asset      text NOT NULL,
    status     text NOT NULL CHECK (status IN ('succeeded', 'failed', 'skipped')),
    reason     text,
    attempts   integer NOT NULL DEFAULT 1,
    run_id     text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (video_id, asset)
);
CREATE INDEX video_steps_failed ON video_steps (asset) WHERE status = 'failed';

-- The checksum of the WAV a diarization was computed from: its turns are reused for as long as the audio
-- is byte for byte the same (a re-download for new captions, a new transcript), not only the same download.
ALTER TABLE diarizations ADD COLUMN audio_sha256 text;

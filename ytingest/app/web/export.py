"""A video's transcript as SRT, WebVTT or JSON, with speaker names.

Minimal on purpose: issue 14's `ytingest transcript` export (`render_transcript`) replaces this when it
lands; `data.py`'s callers then take its text instead."""

from __future__ import annotations

import json

from ytingest.app.web.data import Line, Video

FORMATS = {"srt": "application/x-subrip", "vtt": "text/vtt", "json": "application/json"}


def _clock(seconds: float, separator: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}{separator}{rest % 1000:03d}"


def _one_line(text: str) -> str:
    # A blank line ends a cue in both formats, so a cue's text never contains one.
    return " ".join(text.split())


def to_srt(lines: list[Line]) -> str:
    cues = []
    for number, line in enumerate(lines, start=1):
        who = f"{line.speaker}: " if line.speaker else ""
        cues.append(f"{number}\n{_clock(line.start, ',')} --> {_clock(line.end, ',')}\n{who}{_one_line(line.text)}\n")
    return "\n".join(cues)


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_vtt(lines: list[Line]) -> str:
    cues = ["WEBVTT\n"]
    for line in lines:
        # A voice tag (<v Name>) names the speaker; its annotation cannot hold '>' either.
        who = f"<v {_vtt_escape(_one_line(line.speaker))}>" if line.speaker else ""
        cues.append(f"{_clock(line.start, '.')} --> {_clock(line.end, '.')}\n{who}{_vtt_escape(_one_line(line.text))}\n")
    return "\n".join(cues)


def to_json(video: Video, lines: list[Line]) -> str:
    return json.dumps(
        {
            "video_id": video.video_id,
            "title": video.title,
            "url": video.url,
            "segments": [
                {
                    "start": line.start,
                    "end": line.end,
                    "text": line.text,
                    "speaker": {"label": line.label, "id": line.speaker_id, "name": line.speaker}
                    if line.label
                    else None,
                }
                for line in lines
            ],
        },
        ensure_ascii=False,
        indent=1,
    )


def render(fmt: str, video: Video, lines: list[Line]) -> str:
    if fmt == "srt":
        return to_srt(lines)
    if fmt == "vtt":
        return to_vtt(lines)
    return to_json(video, lines)

"""`ytingest serve` over plain HTTP: the API answers as `ytingest search --json` does, hits land where the
words are spoken, transcripts download, audio seeks with range requests from DATA_DIR only, user text is
escaped on every page, and changes need the app's own form (and a token beyond loopback)."""

import json
import os
import re

import psycopg
import pytest
import requests

from tests.support.cli import ytingest
from tests.support.web import (
    CHANNEL,
    EPISODE,
    QUERY,
    ingest_episode,
    spoken,
    ytingest_serve,
)

HOSTILE_TITLE = '<script>alert("title")</script> & co'
HOSTILE_LINE = '<img src=x onerror="alert(1)"> said it'
HOSTILE_NAME = "<b onmouseover=alert(2)>Ann</b>"


def _form_fields(html: str, action: str) -> dict[str, str]:
    form = re.search(rf'<form method="post" action="{re.escape(action)}">(.*?)</form>', html, re.S)
    assert form, f"no form posting to {action}"
    return dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form.group(1)))


def _post_form(session: requests.Session, base: str, action: str, **values) -> requests.Response:
    """A change as the speakers page makes it: the page's hidden fields (CSRF) plus `values`."""
    page = session.get(f"{base}/speakers")
    fields = {**_form_fields(page.text, action), **values}
    return session.post(f"{base}{action}", data=fields, allow_redirects=False)


@pytest.fixture
def served(archive, instance, smoke_model_settings, tmp_path):
    episode = ingest_episode(instance, tmp_path / "channel")
    with psycopg.connect(archive) as conn:
        (video_id,) = conn.execute("SELECT video_id FROM videos WHERE source_id = %s", (EPISODE.video_id,)).fetchone()
    # No EMBEDDING_MODEL: the server finds the model the archive was embedded with as every command does.
    env = {name: value for name, value in {**os.environ, **smoke_model_settings}.items() if name != "EMBEDDING_MODEL"}
    with ytingest_serve(env, tmp_path / "serve.log") as base:
        yield base, episode, video_id


def test_search_api_transcripts_audio_escaping_and_changes(served, archive, instance, smoke_model_settings):
    import dagster as dg

    base, episode, video_id = served
    for asset in ("videos", "audio", "transcripts", "text_embeddings"):  # each materialisation links its videos' pages
        metadata = instance.get_latest_materialization_event(dg.AssetKey(asset)).asset_materialization.metadata
        assert f"](http://127.0.0.1:8080/videos/{video_id})" in metadata["video_pages"].value, asset

    api = requests.get(f"{base}/api/search", params={"q": QUERY, "limit": 3})
    assert api.status_code == 200, api.text
    cli = ytingest("search", QUERY, "--json", "--limit", "3", env=smoke_model_settings)
    assert cli.returncode == 0, cli.stderr[-2000:]
    assert api.json() == json.loads(cli.stdout) and api.json()

    page = requests.get(base, params={"q": QUERY, "channel": CHANNEL})
    assert page.status_code == 200
    first = re.search(r'data-play data-kind="audio"\s+data-src="/audio/([^"]+)" data-t="([0-9.]+)"', page.text)
    assert first and first.group(1) == video_id
    phrase = spoken(episode, "distant thunder")
    assert abs(api.json()[0]["start"] - phrase.start) <= 2  # the hit is the moment the words are said ...
    assert abs(float(first.group(2)) - phrase.start) <= 2  # ... and the page plays from there
    assert "The <mark>sound</mark> is <mark>like</mark> <mark>distant</mark> <mark>thunder</mark>." in page.text

    transcript = requests.get(f"{base}/videos/{video_id}")
    assert transcript.status_code == 200 and "distant thunder" in transcript.text
    as_json = requests.get(f"{base}/videos/{video_id}/transcript.json").json()
    assert [s["text"] for s in as_json["segments"]] == [u.text for u in episode.utterances]
    srt = requests.get(f"{base}/videos/{video_id}/transcript.srt")
    assert srt.headers["content-disposition"] == f'attachment; filename="{video_id}.srt"'
    assert srt.text.count(" --> ") == len(episode.utterances) and srt.text.startswith("1\n00:00:")
    vtt = requests.get(f"{base}/videos/{video_id}/transcript.vtt").text
    assert vtt.startswith("WEBVTT\n") and vtt.count(" --> ") == len(episode.utterances)
    assert requests.get(f"{base}/videos/{video_id}/transcript.exe").status_code == 404

    # Range requests: the player seeks without fetching the whole file.
    with psycopg.connect(archive) as conn:
        (path,) = conn.execute("SELECT path FROM audio WHERE video_id = %s", (video_id,)).fetchone()
    whole = open(path, "rb").read()
    part = requests.get(f"{base}/audio/{video_id}", headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.content == whole[1000:2000]
    assert part.headers["content-range"] == f"bytes 1000-1999/{len(whole)}"
    assert requests.get(f"{base}/audio/{video_id}").headers["accept-ranges"] == "bytes"
    for bad in ("..%2F..%2Fetc%2Fpasswd", "nosuchvideo", "%2Fetc%2Fpasswd", "a.wav"):
        assert requests.get(f"{base}/audio/{bad}").status_code == 404, bad

    # User text is escaped everywhere it shows.
    with psycopg.connect(archive) as conn:
        conn.execute("UPDATE videos SET title = %s WHERE video_id = %s", (HOSTILE_TITLE, video_id))
        conn.execute("UPDATE transcript_segments SET text = text || ' ' || %s WHERE video_id = %s", (HOSTILE_LINE, video_id))
        speaker_id = conn.execute(
            "SELECT ve.speaker_id FROM voice_embeddings ve WHERE ve.video_id = %s ORDER BY ve.speaker_id LIMIT 1", (video_id,)
        ).fetchone()[0]
    session = requests.Session()
    renamed = _post_form(session, base, f"/speakers/{speaker_id}/name", name=HOSTILE_NAME)
    assert renamed.status_code == 303, renamed.text
    for url in (f"{base}/?q={QUERY}", f"{base}/videos/{video_id}", f"{base}/speakers"):
        html = session.get(url).text
        for raw in (HOSTILE_TITLE, HOSTILE_LINE, HOSTILE_NAME, "<script>alert", "<img src=x", "<b onmouseover"):
            assert raw not in html, (url, raw)
    assert "&lt;script&gt;alert(&#34;title&#34;)&lt;/script&gt; &amp; co" in session.get(f"{base}/videos/{video_id}").text
    assert "&lt;b onmouseover=alert(2)&gt;Ann&lt;/b&gt;" in session.get(f"{base}/speakers").text
    assert "&lt;b onmouseover" in session.get(f"{base}/videos/{video_id}/transcript.vtt").text

    # Changes come only from the app's own pages.
    action = f"/speakers/{speaker_id}/name"
    fields = _form_fields(session.get(f"{base}/speakers").text, action)
    for headers, form in (
        ({"Origin": "http://evil.example"}, fields),
        ({"Sec-Fetch-Site": "cross-site"}, fields),
        ({}, {**fields, "csrf": "guessed"}),
        ({}, {"name": "no csrf field"}),
    ):
        refused = session.post(f"{base}{action}", data={**form, "name": "Mallory"}, headers=headers, allow_redirects=False)
        assert refused.status_code == 403, (headers, refused.text)
    assert requests.post(f"{base}{action}", data={**fields, "name": "Mallory"}).status_code == 403  # no cookie
    with psycopg.connect(archive) as conn:
        assert conn.execute("SELECT name FROM speakers WHERE speaker_id = %s", (speaker_id,)).fetchone()[0] == HOSTILE_NAME
    assert requests.get(f"{base}/speakers", headers={"Host": "rebound.example:80"}).status_code == 400

    # Renamed speakers are searchable by name; bad queries get one line.
    named = requests.get(f"{base}/api/search", params={"q": QUERY, "speaker": HOSTILE_NAME}).json()
    assert named and all(
        any(s["id"] == speaker_id and s["name"] == HOSTILE_NAME for s in hit["speakers"]) for hit in named
    ), named
    for params, words in (({"q": " "}, "type something"), ({"q": QUERY, "since": "yesterday"}, "since"),
                          ({"q": QUERY, "speaker": "nobody"}, "no speaker")):  # fmt: skip
        bad = requests.get(f"{base}/api/search", params=params)
        assert bad.status_code == 400 and words in bad.json()["error"], bad.text


def _insert_speakers(database_url: str) -> list[int]:
    with psycopg.connect(database_url) as conn:
        return [
            conn.execute(
                "INSERT INTO speakers (model, centroid, videos) VALUES ('ecapa', %s::vector, 1) RETURNING speaker_id",
                (vector,),
            ).fetchone()[0]
            for vector in ("[1,0,0]", "[0,1,0]")
        ]


def test_beyond_loopback_changes_need_the_token(archive, tmp_path):
    first, second = _insert_speakers(archive)
    env = {**os.environ}
    env.pop("WEB_TOKEN", None)
    with ytingest_serve(env, tmp_path / "open.log", host="0.0.0.0") as base:
        session = requests.Session()
        page = session.get(f"{base}/speakers").text
        assert "Renaming and merging are off" in page
        refused = _post_form(session, base, f"/speakers/{first}/name", name="Ann")
        assert refused.status_code == 403 and "WEB_TOKEN" in refused.text
    with ytingest_serve({**env, "WEB_TOKEN": "s3cret-token"}, tmp_path / "token.log", host="0.0.0.0") as base:
        session = requests.Session()
        assert _post_form(session, base, f"/speakers/{first}/name", name="Ann").status_code == 403
        assert _post_form(session, base, f"/speakers/{first}/name", name="Ann", token="wrong").status_code == 403
        assert _post_form(session, base, f"/speakers/{first}/name", name="Ann", token="s3cret-token").status_code == 303
        merged = _post_form(session, base, "/speakers/merge", keep=str(first), other=str(second), token="s3cret-token")
        assert merged.status_code == 303
    assert "s3cret-token" not in (tmp_path / "token.log").read_text()
    with psycopg.connect(archive) as conn:
        rows = conn.execute("SELECT speaker_id, name, videos, centroid::text FROM speakers").fetchall()
    assert len(rows) == 1 and rows[0][:3] == (first, "Ann", 2)
    assert json.loads(rows[0][3]) == pytest.approx([0.7071068, 0.7071068, 0], abs=1e-6)


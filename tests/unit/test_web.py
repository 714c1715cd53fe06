"""The web app's plain parts: passage highlighting (escaped), links from Dagster metadata,
and the guard that decides which changes go through."""


import pytest
from starlette.requests import Request

from ytingest.app.web.data import Line
from ytingest.app.web.pages import highlight
from ytingest.app.web.security import CSRF_COOKIE, Guard, is_loopback
from ytingest.core.web_links import MAX_LINKS, video_page_url, video_pages_markdown

LINES = [
    Line(0.5, 2.25, "Welcome  back\nto the show.", "SPEAKER_00", 3, "Ada"),
    Line(3725.0, 3726.5, "1 < 2 & <b>bold</b>", None, None, None),
]


def test_highlight_escapes_everything_and_marks_only_the_matched_spans():
    text = 'Rivers <script>x</script> & the river "ice"'
    spans = [(0, 6), (32, 37), (39, 42)]
    assert str(highlight(text, spans)) == (
        "<mark>Rivers</mark> &lt;script&gt;x&lt;/script&gt; &amp; the <mark>river</mark> &#34;<mark>ice</mark>&#34;"
    )
    assert str(highlight("<i>amp</i>", [(3, 6)])) == "&lt;i&gt;<mark>amp</mark>&lt;/i&gt;"  # never inside an entity
    assert str(highlight("<x>", [])) == "&lt;x&gt;"
    assert str(highlight("abcdef", [(2, 5), (0, 3)])) == "<mark>abc</mark>def"  # overlaps: the first wins


def test_video_page_links_follow_the_base_url(monkeypatch):
    monkeypatch.setenv("WEB_BASE_URL", "https://archive.example/ui/")
    assert video_page_url("abc-1") == "https://archive.example/ui/videos/abc-1"
    listing = video_pages_markdown([f"v{i}" for i in range(MAX_LINKS + 3)])
    assert listing.splitlines()[0] == "- [v0](https://archive.example/ui/videos/v0)"
    assert listing.splitlines()[-1] == "- ... and 3 more" and len(listing.splitlines()) == MAX_LINKS + 1


def test_a_bad_web_base_url_is_refused(monkeypatch):
    from ytingest.settings import SettingsError, get_settings

    monkeypatch.setenv("WEB_BASE_URL", "javascript:alert(1)")
    with pytest.raises(SettingsError, match="WEB_BASE_URL"):
        get_settings()


def test_loopback_hosts():
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1") and is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.com")


def _request(headers: dict[str, str], cookie: str | None = "c00kie") -> Request:
    raw = [(b"host", b"127.0.0.1:8080")] + [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    if cookie:
        raw.append((b"cookie", f"{CSRF_COOKIE}={cookie}".encode()))
    return Request({"type": "http", "method": "POST", "scheme": "http", "path": "/", "query_string": b"", "headers": raw})


@pytest.mark.parametrize(
    ("guard", "headers", "form", "refused"),
    [
        (Guard(None, True), {"origin": "http://127.0.0.1:8080", "sec-fetch-site": "same-origin"}, {"csrf": "c00kie"}, None),
        (Guard(None, True), {}, {"csrf": "c00kie"}, None),  # a client without Origin (curl) still needs the CSRF pair
        (Guard(None, True), {"origin": "http://evil.example"}, {"csrf": "c00kie"}, "cross-site"),
        (Guard(None, True), {"origin": "null"}, {"csrf": "c00kie"}, "cross-site"),
        (Guard(None, True), {"sec-fetch-site": "same-site"}, {"csrf": "c00kie"}, "cross-site"),
        (Guard(None, True), {}, {"csrf": "other"}, "stale"),
        (Guard(None, True), {}, {}, "stale"),
        (Guard(None, False), {}, {"csrf": "c00kie"}, "changes are off"),
        (Guard("tok", False), {}, {"csrf": "c00kie"}, "token"),
        (Guard("tok", False), {}, {"csrf": "c00kie", "token": "tok"}, None),
        (Guard("tok", True), {}, {"csrf": "c00kie", "token": "nope"}, "token"),  # a set token is asked for on loopback too
    ],
)
def test_guard(guard, headers, form, refused):
    why = guard.refusal(_request(headers), form)
    assert (why is None) if refused is None else (refused in why), why


def test_guard_needs_the_cookie():
    assert "stale" in Guard(None, True).refusal(_request({}, cookie=None), {"csrf": ""})

"""Download and conversion failures, sorted into transient (429, 5xx, resets, timeouts: retried with
backoff) and permanent (404, private, removed, corrupt: recorded as the video's failure reason)."""

from __future__ import annotations

import datetime as dt
import email.utils
import re

MAX_RETRY_AFTER_SECONDS = 120.0  # longer Retry-After waits are cut to this; if retries run out, the next run tries again
_HTTP_STATUS = re.compile(r"HTTP Error (\d{3})")
_PERMANENT_PHRASES = (
    "private video",
    "video unavailable",
    "has been removed",
    "account associated with this video has been terminated",
    "members-only",
    "sign in to confirm your age",
    "not available in your country",
    "the downloaded file is empty",
    "no video formats found",
    "requested format is not available",
)
_TRANSIENT_PHRASES = (
    "timed out",
    "connection reset",
    "connection refused",
    "remote end closed",
    "incomplete read",
    "content too short",
    "temporary failure",
)


class MediaError(Exception):
    """A download or conversion failure, with a reason fit for the failures table."""

    def __init__(
        self, reason: str, *, transient: bool = False, unsupported: bool = False, retry_after: float | None = None
    ):
        super().__init__(reason)
        self.reason = reason
        self.transient = transient
        self.unsupported = unsupported
        self.retry_after = retry_after  # seconds the server asked us to wait (429/503 Retry-After)


def classify(exc: BaseException) -> MediaError:
    """Map a yt-dlp or network exception to a MediaError saying whether a retry can help."""
    if isinstance(exc, MediaError):
        return exc
    original = getattr(exc, "exc_info", None)
    cause = original[1] if original and len(original) > 1 else exc.__cause__ or exc.__context__
    # Some yt-dlp errors carry no text (timeouts, short reads): their class names say what happened.
    names = " ".join(type(e).__name__ for e in (exc, cause) if e is not None)
    message = (str(exc) or str(cause or "")).removeprefix("ERROR: ").strip() or names
    lowered = f"{message} {names}".lower()
    status = getattr(cause, "status", None)
    if status is None:
        match = _HTTP_STATUS.search(message)
        status = int(match.group(1)) if match else None
    short = message.splitlines()[0][:300]
    if status is not None:
        retry_after = _retry_after(cause)
        return MediaError(
            f"HTTP {status}: {short}",
            transient=status == 429 or status >= 500,
            retry_after=retry_after if retry_after is not None else _retry_after(exc),
        )
    if "unsupported url" in lowered:
        return MediaError(short, unsupported=True)
    if any(p in lowered for p in _PERMANENT_PHRASES):
        return MediaError(short)
    if "timeout" in lowered or "timed out" in lowered:
        return MediaError(f"timed out: {short}", transient=True)
    if "did not get any data blocks" in lowered:
        return MediaError(f"empty response: {short}", transient=True)
    if any(p in lowered for p in ("contenttooshort", "incompleteread", "more expected")):
        return MediaError(f"download incomplete: {short}", transient=True)
    if isinstance(cause, (TimeoutError, ConnectionError)) or any(p in lowered for p in _TRANSIENT_PHRASES):
        return MediaError(short, transient=True)
    return MediaError(short)


def _retry_after(cause: BaseException | None) -> float | None:
    """The Retry-After of an HTTP error response, in seconds (delta-seconds or an HTTP date)."""
    headers = getattr(getattr(cause, "response", None), "headers", None)
    value = headers.get("Retry-After") if headers is not None else None
    if not value:
        return None
    value = str(value).strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())

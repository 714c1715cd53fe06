"""What keeps the web app safe by default: changes need a token beyond loopback (or whenever WEB_TOKEN is
set), every change must come from the app's own pages (same origin, and a CSRF token that a cross-site
page cannot read), and the headers keep other sites from framing or scripting it."""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

CSRF_COOKIE = "ytingest_csrf"
CSRF_FIELD = "csrf"
TOKEN_FIELD = "token"
LOOPBACK_NAMES = ("127.0.0.1", "localhost")
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "media-src 'self'; img-src 'self' data:; frame-src https://www.youtube-nocookie.com; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Guard:
    token: str | None  # WEB_TOKEN
    loopback: bool  # the server listens on loopback only

    @property
    def token_required(self) -> bool:
        return self.token is not None or not self.loopback

    @property
    def changes_allowed(self) -> bool:
        return not self.token_required or self.token is not None

    def refusal(self, request: Request, form: dict) -> str | None:
        """Why this change request is refused, or None to let it through."""
        site = request.headers.get("sec-fetch-site")
        if site is not None and site not in ("same-origin", "none"):
            return "refused: a cross-site request"
        origin = request.headers.get("origin")
        if origin is not None and origin != f"{request.url.scheme}://{request.headers.get('host', '')}":
            return "refused: a cross-site request"
        cookie, field = request.cookies.get(CSRF_COOKIE, ""), str(form.get(CSRF_FIELD, ""))
        if not cookie or not hmac.compare_digest(cookie.encode(), field.encode()):
            return "refused: the form is stale or came from elsewhere (reload the page and try again)"
        if not self.changes_allowed:
            return "changes are off: this server listens beyond loopback, so set WEB_TOKEN to allow them"
        if self.token_required and not hmac.compare_digest(self.token.encode(), str(form.get(TOKEN_FIELD, "")).encode()):
            return "refused: wrong or missing token (WEB_TOKEN)"
        return None


def csrf_token(request: Request) -> str:
    """The browser's CSRF token: the cookie's, or a new one that `keep_csrf` sets on the response."""
    token = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if not token:
        token = request.state.new_csrf = secrets.token_urlsafe(32)
    return token


def keep_csrf(request: Request, response: Response) -> Response:
    new = getattr(request.state, "new_csrf", None)
    if new:
        response.set_cookie(CSRF_COOKIE, new, httponly=True, samesite="strict", path="/")
    return response


def secure_headers(response: Response) -> Response:
    response.headers.setdefault("content-security-policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("x-content-type-options", "nosniff")
    response.headers.setdefault("referrer-policy", "same-origin")
    return response

"""`ytingest serve`: the archive in a browser (search, transcripts, speakers), server-rendered with
Starlette and Jinja2 on the same settings and database as the other commands."""

from __future__ import annotations

import contextlib
import threading

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware

from ytingest.app.web.data import Archive
from ytingest.app.web.pages import routes
from ytingest.app.web.security import LOOPBACK_NAMES, Guard, is_loopback
from ytingest.settings import get_settings


def create_app(host: str = "127.0.0.1") -> Starlette:
    settings = get_settings()
    loopback = is_loopback(host)
    archive = Archive()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        threading.Thread(target=archive.warm_up, name="encoder-warm-up", daemon=True).start()
        yield
        archive.close()

    # On loopback only loopback names are served: a page on another site cannot reach this server
    # through a hostname of its own that resolves to 127.0.0.1 (DNS rebinding).
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=list(LOOPBACK_NAMES) if loopback else ["*"])]
    app = Starlette(routes=routes(), middleware=middleware, lifespan=lifespan)
    token = settings.web_token.get_secret_value() if settings.web_token else None
    app.state.archive = archive
    app.state.guard = Guard(token, loopback)
    return app


def serve(host: str, port: int) -> int:
    import uvicorn

    from resources.postgres import PostgresResource

    postgres = PostgresResource()
    postgres.resolved_url()  # a bad DATABASE_URL fails here, with one line, not on the first page
    app = create_app(host)
    guard: Guard = app.state.guard
    print(f"ytingest web on http://{host}:{port}  (Ctrl-C stops it)")
    if not guard.changes_allowed:
        print("  listening beyond loopback without WEB_TOKEN: renaming and merging speakers are off")
    elif guard.token_required:
        print("  renaming and merging speakers need WEB_TOKEN")
    uvicorn.run(app, host=host, port=port, log_level="warning")
    return 0

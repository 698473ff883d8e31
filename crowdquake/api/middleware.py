"""The WSGI layers around the whole application: trusted proxies and security headers.

``wrap(wsgi_app, settings)`` is applied last in ``create_app``, so it is the outermost layer:
anything that answers before Flask (a lean ingest path, for instance) must be mounted inside it,
and then gets the same client address and the same headers as every Flask view.

Trusted proxies: with ``trusted_proxy_hops = N > 0`` werkzeug's ``ProxyFix`` takes the client
address from the N-th ``X-Forwarded-For`` entry counted from the right (the one our own outermost
proxy appended) and the scheme from ``X-Forwarded-Proto``; anything a client put further left is
ignored, so a client cannot choose the address its per-IP limits are counted under. With 0 (the
default, no proxy) the headers are ignored and the peer address counts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from werkzeug.middleware.proxy_fix import ProxyFix

from crowdquake.config import Settings

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

# One year, the usual HSTS lifetime (browsers honour it only over HTTPS).
HSTS = "max-age=31536000; includeSubDomains"
# JSON, feeds, CAP, metrics: nothing may load, nothing may frame.
CSP_API = "default-src 'none'; frame-ancestors 'none'"
# HTML (the operator console): own scripts only; images and map tiles also from https; styles
# inline too, because the map library positions its elements with style attributes.
CSP_HTML = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob: https:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("Strict-Transport-Security", HSTS),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
)


def security_headers(content_type: str | None) -> list[tuple[str, str]]:
    """The headers every response carries; the CSP depends on whether it is an HTML page."""
    is_html = (content_type or "").partition(";")[0].strip().lower() == "text/html"
    return [*SECURITY_HEADERS, ("Content-Security-Policy", CSP_HTML if is_html else CSP_API)]


class SecurityHeaders:
    """Adds ``security_headers`` to every response, keeping any a view set itself."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        def start(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], object]:
            present = {name.lower() for name, _ in headers}
            content_type = next((v for k, v in headers if k.lower() == "content-type"), None)
            headers.extend(
                (name, value)
                for name, value in security_headers(content_type)
                if name.lower() not in present
            )
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


def wrap(app: WSGIApplication, settings: Settings) -> WSGIApplication:
    hops = settings.trusted_proxy_hops
    inner: WSGIApplication = (
        ProxyFix(app, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0) if hops > 0 else app
    )
    return SecurityHeaders(inner)

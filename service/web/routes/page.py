"""The policy owners' page: `/` and its assets, served by Amends itself from the installed
package (no CDN, no network at run time), under a Content-Security-Policy of 'self'. The page
signs in with a key or token and calls the same API as any client, so it can do nothing the
caller's role could not. A plain Flask blueprint: these are not API routes."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, request, send_from_directory
from werkzeug.http import parse_range_header

PAGE_DIR = Path(__file__).resolve().parents[1] / "page"
CONTENT_TYPES = {  # Flask adds `charset=utf-8` to the text types
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
}
ASSET_SUFFIXES = frozenset({".js", ".css", ".svg"})  # index.html is served only at `/`
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self'; connect-src 'self'; font-src 'self'; "
                               "object-src 'none'; base-uri 'none'; form-action 'self'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

blueprint = Blueprint("page", __name__)


def _send(name: str):
    if "HTTP_RANGE" in request.environ:
        asked = parse_range_header(request.environ["HTTP_RANGE"])
        if asked is None or asked.units != "bytes" or len(asked.ranges) > 1:
            # A Range it cannot read, of another unit, or of several ranges (which would
            # need a multipart answer) is ignored (RFC 9110, 14.2): the whole file, not a
            # 416.
            del request.environ["HTTP_RANGE"]
    suffix = Path(name).suffix
    response = send_from_directory(PAGE_DIR, name, mimetype=CONTENT_TYPES[suffix],
                                   max_age=0, conditional=True)
    response.headers.update(SECURITY_HEADERS)
    response.cache_control.no_cache = True  # revalidate: a new release shows at once
    return response


@blueprint.route("/", methods=["GET"])
def index():
    """The page itself."""
    return _send("index.html")


@blueprint.route("/page/<name>", methods=["GET"])
def asset(name: str):
    """A script, style sheet or image of the page; nothing else of the folder."""
    if Path(name).suffix not in ASSET_SUFFIXES or name.startswith("."):
        abort(404)
    return _send(name)  # a name that is not there is a 404 as well

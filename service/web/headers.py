"""Headers every answer carries beyond its own: API answers hold customers' incidents and
what they were granted, so no cache keeps them; no answer is sniffed for another type; the
API documentation page, where a key is pasted, is never framed by another site."""

from __future__ import annotations

from flask import Flask, request

from service.web.auth import API_PREFIX
from service.web.openapi import SWAGGER_UI_PAGE


def register(app: Flask) -> None:
    @app.after_request
    def _headers(response):
        headers, path = response.headers, request._get_current_object().path
        headers["X-Content-Type-Options"] = "nosniff"
        if path.startswith(API_PREFIX):
            headers["Cache-Control"] = "no-store"
        elif path.startswith(SWAGGER_UI_PAGE):
            headers["X-Frame-Options"] = "DENY"
            headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
        return response

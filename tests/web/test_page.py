"""The page's files over HTTP: what is served, with which headers, and what is not."""

import pytest

from service.web.routes.page import PAGE_DIR

PROBLEM = "application/problem+json"


@pytest.mark.parametrize(("path", "kind", "file"), [
    ("/", "text/html", "index.html"), ("/page/app.js", "text/javascript", "app.js"),
    ("/page/app.css", "text/css", "app.css"), ("/page/icon.svg", "image/svg+xml", "icon.svg")])
def test_the_page_and_its_assets_are_served_under_a_strict_policy(client, path, kind, file):
    response = client.get(path)
    assert response.status_code == 200 and response.mimetype == kind
    assert response.data == (PAGE_DIR / file).read_bytes()
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-cache" in response.headers["Cache-Control"]


@pytest.mark.parametrize("path", ["/page/index.html", "/page/.hidden.js", "/page/nothere.js",
                                  "/page/app.py"])
def test_nothing_else_of_the_folder_is_served(client, path):
    response = client.get(path)
    assert response.status_code == 404 and response.mimetype == PROBLEM


def test_a_range_is_served_and_one_it_cannot_read_or_serve_is_ignored(client):
    whole = (PAGE_DIR / "app.js").read_bytes()
    part = client.get("/page/app.js", headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.data == whole[:10]
    for unreadable in ["garbage", "bytes=5-1", "lines=1-2", "bytes=0-4,10-14"]:
        response = client.get("/page/app.js", headers={"Range": unreadable})
        assert response.status_code == 200 and response.data == whole, unreadable
    beyond = client.get("/page/app.js", headers={"Range": f"bytes={len(whole) + 10}-"})
    assert beyond.status_code == 416  # readable, but past the end of the file

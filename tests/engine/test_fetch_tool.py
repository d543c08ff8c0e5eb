"""The model asks for a web page; the user approved the exact address; the tool brings back its
text, or says clearly why not. Real HTTP against a local server on 127.0.0.1: no network."""
from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from engine.cancel import Cancel
from engine.tools.base import RESULT_BUDGET
from engine.tools.fetch import MAX_BYTES, USER_AGENT, FetchTool, html_to_text
from engine.tools.registry import ToolRegistry, ToolSettings

pytestmark = pytest.mark.timeout(60)

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Hearth &amp; Home</title>
<style>body { color: red } .STYLE-SECRET {}</style>
<script>var token = "SCRIPT-SECRET"; document.write("hi");</script>
</head><body>
<nav><a href="/">Home</a> <a href="/about">About</a></nav>
<h1>Keeping warm</h1>
<p>A hearth is the   floor of a <b>fireplace</b>. Read <a href="/guide.html">the guide</a>.</p>
<ul><li>Dry wood</li><li>Good draught</li></ul>
<noscript>NOSCRIPT-SECRET</noscript>
<svg><text>SVG-SECRET</text></svg>
</body></html>"""


class _Site(BaseHTTPRequestHandler):
    slow_started: threading.Event
    release: threading.Event
    seen_agents: list[str]

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str, status: int = 302) -> None:
        self.send_response(status)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:  # noqa: C901 - one route table
        type(self).seen_agents.append(self.headers.get("User-Agent", ""))
        path = self.path
        if path == "/page.html":
            self._send(200, PAGE.encode(), "text/html; charset=utf-8")
        elif path == "/notes.txt":
            self._send(200, b"First line.\nSecond line.\n", "text/plain")
        elif path == "/readme.md":
            self._send(200, b"# Title\n\n- item\n", "text/markdown; charset=utf-8")
        elif path == "/data.json":
            self._send(200, json.dumps({"name": "Hearth", "tags": ["chat", "local"]}).encode(), "application/json")
        elif path == "/feed.xml":
            self._send(200, b"<?xml version='1.0'?><feed><title>News</title></feed>", "application/atom+xml")
        elif path == "/latin1.html":
            self._send(200, "<title>Caf\u00e9</title><p>cr\u00e8me br\u00fbl\u00e9e</p>".encode("latin-1"),
                       "text/html; charset=iso-8859-1")
        elif path == "/meta-charset.html":
            self._send(200, '<meta charset="windows-1252"><p>na\u00efve</p>'.encode("cp1252"), "text/html")
        elif path == "/long.txt":
            self._send(200, ("word " * 20_000).encode(), "text/plain")
        elif path == "/start":
            self._redirect("/middle", 301)
        elif path == "/middle":
            self._redirect(f"http://127.0.0.1:{self.server.server_address[1]}/page.html", 302)
        elif path == "/to-file":
            self._redirect("file:///etc/passwd")
        elif path.startswith("/loop/"):
            self._redirect(f"/loop/{int(path.rsplit('/', 1)[1]) + 1}")
        elif path == "/missing":
            self._send(404, b"<h1>Not here</h1>", "text/html")
        elif path == "/broken":
            self._send(500, b"oops", "text/plain")
        elif path == "/photo.png":
            self._send(200, b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png")
        elif path == "/blob":
            self._send(200, b"\x00\x01\x02", "application/octet-stream")
        elif path == "/untyped":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"<!DOCTYPE html><title>Untyped</title><p>sniffed</p>")
        elif path == "/forever":   # text without end: the tool must stop at its cap
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            chunk = b"endless text " * 5000
            try:
                while not type(self).release.is_set():
                    self.wfile.write(chunk)
            except OSError:
                pass
        elif path in ("/slow", "/silent"):   # a little text (or nothing), then the server waits
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            if path == "/slow":
                self.wfile.write(b"the beginning ")
            self.wfile.flush()
            type(self).slow_started.set()
            type(self).release.wait(30)
        elif path == "/doc.pdf":
            self._send(200, _pdf("Hello from a PDF"), "application/pdf")
        else:
            self._send(404, b"", "text/plain")


@pytest.fixture(scope="module")
def site():
    handler = type("Site", (_Site,), {"slow_started": threading.Event(), "release": threading.Event(),
                                      "seen_agents": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.base = f"http://127.0.0.1:{server.server_address[1]}"
    server.handler = handler
    yield server
    handler.release.set()
    server.shutdown()
    server.server_close()


def fetch(url, tool: FetchTool | None = None, cancel: Cancel | None = None):
    return (tool or FetchTool()).run({"url": url}, cancel or Cancel())


def _pdf(text: str) -> bytes:
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> "
               b"/Contents 4 0 R >>",
               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


# -- the model reads a page -------------------------------------------------------------------

def test_an_html_page_comes_back_as_readable_text_with_its_title(site):
    result = fetch(f"{site.base}/page.html")
    assert result.ok, result.text
    lines = result.text.splitlines()
    assert lines[0] == f"URL: {site.base}/page.html"
    assert lines[1] == "Title: Hearth & Home"
    assert "# Keeping warm" in result.text
    assert "A hearth is the floor of a fireplace." in result.text
    assert f"the guide ({site.base}/guide.html)" in result.text
    assert "- Dry wood\n- Good draught" in result.text
    assert "Home About" in result.text and f"({site.base}/about)" not in result.text   # menus stay short
    for hidden in ("SCRIPT-SECRET", "STYLE-SECRET", "NOSCRIPT-SECRET", "SVG-SECRET", "document.write", "color: red"):
        assert hidden not in result.text
    assert not result.truncated
    assert USER_AGENT in site.handler.seen_agents


def test_plain_text_markdown_xml_and_pretty_json(site):
    text = fetch(f"{site.base}/notes.txt")
    assert text.ok and text.text.endswith("First line.\nSecond line.")
    assert "Title:" not in text.text
    markdown = fetch(f"{site.base}/readme.md")
    assert markdown.ok and "# Title\n\n- item" in markdown.text
    data = fetch(f"{site.base}/data.json")
    assert data.ok
    assert '{\n  "name": "Hearth",\n  "tags": [\n    "chat",' in data.text
    feed = fetch(f"{site.base}/feed.xml")
    assert feed.ok and "<feed><title>News</title></feed>" in feed.text


def test_declared_charsets_are_honoured(site):
    latin = fetch(f"{site.base}/latin1.html")
    assert latin.ok and "Title: Caf\u00e9" in latin.text and "cr\u00e8me br\u00fbl\u00e9e" in latin.text
    meta = fetch(f"{site.base}/meta-charset.html")
    assert meta.ok and "na\u00efve" in meta.text


def test_a_page_without_a_type_is_sniffed(site):
    result = fetch(f"{site.base}/untyped")
    assert result.ok and "Title: Untyped" in result.text and "sniffed" in result.text


def test_a_pdf_is_read_as_text(site):
    result = fetch(f"{site.base}/doc.pdf")
    assert result.ok, result.text
    assert "Hello from a PDF" in result.text


def test_a_long_page_is_cut_to_the_budget_and_says_so(site):
    result = fetch(f"{site.base}/long.txt")
    assert result.ok and result.truncated
    assert len(result.text) <= RESULT_BUDGET
    assert result.text.startswith(f"URL: {site.base}/long.txt\n")
    assert "99,999 characters" in result.text and "the first" in result.text


# -- redirects ----------------------------------------------------------------------------------

def test_a_redirect_chain_is_followed_and_shown(site):
    result = fetch(f"{site.base}/start")
    assert result.ok, result.text
    lines = result.text.splitlines()
    assert lines[0] == f"URL: {site.base}/page.html"
    assert lines[1] == f"Redirected from: {site.base}/start → {site.base}/middle"
    assert lines[2] == "Title: Hearth & Home"


def test_a_redirect_to_a_file_url_is_refused(site):
    result = fetch(f"{site.base}/to-file")
    assert not result.ok
    assert "file:///etc/passwd" in result.text and "http" in result.text
    assert "root:" not in result.text


def test_too_many_redirects(site):
    result = fetch(f"{site.base}/loop/0")
    assert not result.ok
    assert "too many redirects" in result.text and f"{site.base}/loop/0" in result.text
    assert f"/loop/{5}" in result.text and "/loop/7" not in result.text   # five followed, the sixth refused


# -- failures are results, never exceptions ----------------------------------------------------

def test_http_errors_name_the_address_and_status(site):
    missing = fetch(f"{site.base}/missing")
    assert not missing.ok
    assert f"{site.base}/missing" in missing.text and "404 Not Found" in missing.text
    broken = fetch(f"{site.base}/broken")
    assert not broken.ok and "500" in broken.text


def test_a_closed_port_is_a_refused_connection():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = fetch(f"http://127.0.0.1:{port}/")
    assert not result.ok
    assert f"http://127.0.0.1:{port}/" in result.text and "refused" in result.text


def test_an_unknown_host_says_the_name_was_not_found(monkeypatch):
    def no_dns(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    result = fetch("https://no-such-host.invalid/page")
    assert not result.ok
    assert "https://no-such-host.invalid/page" in result.text and "could not be found" in result.text


def test_an_endless_body_stops_at_the_cap(site):
    result = fetch(f"{site.base}/forever")
    assert result.ok and result.truncated
    assert "endless text" in result.text
    assert "Only the first 2.0 MB of the page were read" in result.text
    assert len(result.text) <= RESULT_BUDGET

    small = fetch(f"{site.base}/forever", FetchTool(max_bytes=10_000))
    assert small.ok and "Only the first 9.8 KB" in small.text
    assert MAX_BYTES == 2 * 1024 * 1024


def test_images_and_binary_files_are_refused_by_type(site):
    image = fetch(f"{site.base}/photo.png")
    assert not image.ok and "an image (image/png)" in image.text and f"{site.base}/photo.png" in image.text
    blob = fetch(f"{site.base}/blob")
    assert not blob.ok and "application/octet-stream" in blob.text


def test_a_stop_during_a_slow_body_ends_the_fetch_promptly(site):
    site.handler.slow_started.clear()
    tool = FetchTool(total_s=50)            # the deadline must not be what ends it
    cancel = Cancel()
    results = []
    worker = threading.Thread(target=lambda: results.append(fetch(f"{site.base}/slow", tool, cancel)))
    worker.start()
    assert site.handler.slow_started.wait(20)
    cancel.cancel()
    worker.join(20)
    assert not worker.is_alive()
    assert not results[0].ok
    assert "Stopped fetching" in results[0].text and f"{site.base}/slow" in results[0].text


def test_a_silent_server_meets_the_deadline(site):
    result = fetch(f"{site.base}/silent", FetchTool(total_s=0.5))
    assert not result.ok
    assert f"{site.base}/silent" in result.text and "took longer than 0.5 seconds" in result.text


def test_an_already_cancelled_call_fetches_nothing(site):
    cancel = Cancel()
    cancel.cancel()
    before = len(site.handler.seen_agents)
    result = fetch(f"{site.base}/page.html", cancel=cancel)
    assert not result.ok and "Stopped" in result.text
    assert len(site.handler.seen_agents) == before


@pytest.mark.parametrize("arguments", [
    {}, {"url": None}, {"url": 5}, {"url": ["http://x"]}, {"url": ""}, {"url": "   "},
    {"url": "example.com"}, {"url": "www.example.com/page"}, {"url": "localhost:8000/x"},
    {"url": "file:///etc/passwd"}, {"url": "ftp://example.com/file"}, {"url": "data:text/plain,hi"},
    {"url": "javascript:alert(1)"}, {"url": "http://"}, {"url": "http://[::1"}, {"url": "http://a b.com/"},
    {"url": "http://example.com/\x00"}, {"url": "http://x/" + "a" * 20_000}, None, [], "http://example.com",
])
def test_odd_arguments_never_raise(arguments):
    result = FetchTool().run(arguments, Cancel())
    assert not result.ok
    assert result.text


def test_other_schemes_are_refused_with_a_clear_reason():
    result = FetchTool().run({"url": "file:///etc/passwd"}, Cancel())
    assert "file:" in result.text and "http:// and https://" in result.text
    script = FetchTool().run({"url": "javascript:alert(1)"}, Cancel())
    assert "javascript: address" in script.text
    bare = FetchTool().run({"url": "example.com"}, Cancel())
    assert "example.com" in bare.text and "https://" in bare.text


# -- what the model sees ------------------------------------------------------------------------

def test_the_spec_tells_the_model_about_approval():
    spec = FetchTool().spec
    assert spec.name == "fetch"
    assert spec.parameters["required"] == ["url"]
    assert spec.parameters["properties"]["url"]["type"] == "string"
    assert "approve" in spec.description and "full URL" in spec.description
    registry = ToolRegistry.build(ToolSettings(enabled=("fetch",)))
    assert registry.names() == ["fetch"] and not registry.unavailable


def test_html_structure_survives_without_a_title():
    title, text = html_to_text("<p>one</p><pre>a\n  b</pre><table><tr><td>x</td><td>y</td></tr></table>"
                               "<a href='javascript:void(0)'>js</a> <a href='mailto:a@b.c'>mail</a>",
                               "https://example.com/")
    assert title == ""
    assert text == "one\n\na\n  b\n\nx | y\n\njs mail"


def test_a_cancel_after_the_call_is_harmless(site):
    cancel = Cancel()
    assert fetch(f"{site.base}/notes.txt", cancel=cancel).ok
    cancel.cancel()   # after the call: harmless, and the call's work is not kept alive by it
    assert fetch(f"{site.base}/notes.txt").ok

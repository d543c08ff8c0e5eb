"""The `fetch` tool: the model names a web page by its full address and gets back its text.

The user approves every call seeing the full URL (`fetch` is in approval.ALWAYS_ASK), so this
tool fetches exactly that address, never a guess at what the model meant ("example.com" is
refused, not turned into "https://example.com"). Only http:// and https://, for the address and
for every redirect (at most MAX_REDIRECTS of them).

One GET with a desktop User-Agent; the body is streamed and stopped at `max_bytes`. HTML becomes
readable text (title on top; scripts, styles, SVG and the head left out; headings, list items and
paragraphs kept; a link in the page's content as "text (address)"); plain text, Markdown, XML and
other text types come back as they are, JSON pretty-printed, a PDF through the knowledge
extractor. Images, archives and other binary files are refused by their type before their body is
read. Text over `max_bytes` is kept up to the cap, with a note.

The work runs on its own thread: a Stop (the run's Cancel) or the `total_s` deadline answers at
once, even while a DNS lookup or a silent server holds that thread; the socket is shut down so a
blocked read ends too. Every failure (an HTTP error, DNS, a refused connection, a timeout, too
many redirects) is a ToolResult(ok=False) naming the address; run() never raises.
"""
from __future__ import annotations

import codecs
import json
import re
import socket
import ssl
import threading
import time
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx2

from engine.cancel import Cancel, Cancelled, stream_socket, wake_reader
from engine.knowledge.extract import ExtractionError, extract_text, human_size
from engine.tools.base import RESULT_BUDGET, ToolResult, ToolSpec

NAME = "fetch"
USER_AGENT = "Hearth/0.1 (+local assistant)"
SCHEMES = ("http", "https")
MAX_BYTES = 2 * 1024 * 1024
MAX_REDIRECTS = 5
CONNECT_S = 10.0
TOTAL_S = 20.0

STOPPED, TIMED_OUT = "stopped", "timed out"
_REDIRECT_STATUS = frozenset({301, 302, 303, 307, 308})
_MAX_URL_CHARS = 8192
_MAX_TITLE_CHARS = 300
_JOIN_GRACE_S = 0.5      # after a stop, how long to let the work's thread notice (never for a DNS lookup)
_EMPTY = "(The page has no readable text. It may build its content with JavaScript, which Hearth does not run.)"
_DESCRIPTION = (
    "Fetch one web page by its full address (http:// or https://) and return its readable text, "
    "with its title. The user must approve every fetch and sees the full URL first, so give the "
    "exact, complete address, and never put private details from the conversation into it. "
    "Reads HTML, plain text, Markdown, JSON and XML (and PDF); refuses images and other binary "
    "files; follows up to 5 redirects; a long page is cut to its beginning.")

_TEXT_APPLICATION = frozenset({
    "application/javascript", "application/x-javascript", "application/ecmascript",
    "application/yaml", "application/x-yaml", "application/toml", "application/x-toml",
    "application/sql", "application/x-sh", "application/x-httpd-php", "application/graphql",
    "application/x-ndjson", "application/csv", "application/x-tex", "application/x-latex",
})
_ARCHIVES = ("zip", "gzip", "x-gzip", "x-tar", "x-7z-compressed", "x-rar-compressed", "vnd.rar", "x-bzip2", "x-xz",
             "zstd", "java-archive")


class _Refusal(Exception):
    """A refusal or failure on its way to becoming ToolResult(ok=False)."""


class FetchTool:
    def __init__(self, *, max_bytes: int = MAX_BYTES, connect_s: float = CONNECT_S, total_s: float = TOTAL_S,
                 max_redirects: int = MAX_REDIRECTS, budget: int = RESULT_BUDGET) -> None:
        self.max_bytes = max_bytes
        self.connect_s = connect_s
        self.total_s = total_s
        self.max_redirects = max_redirects
        self.budget = budget
        self.spec = ToolSpec(name=NAME, description=_DESCRIPTION, parameters={
            "type": "object",
            "properties": {
                "url": {"type": "string",
                        "description": "The page's full address, starting with https:// or http://, "
                                       "e.g. https://en.wikipedia.org/wiki/Hearth"},
            },
            "required": ["url"],
        })

    def run(self, arguments: dict[str, Any], cancel: Cancel) -> ToolResult:
        started = time.monotonic()
        try:
            url = _checked_url(arguments)
        except _Refusal as refusal:
            return ToolResult(str(refusal), ok=False)
        if cancel.cancelled:
            return ToolResult(f"Stopped before fetching {url}: the user cancelled.", ok=False)
        job = _Job(self, url)
        wake = threading.Event()
        job.wake = wake
        link: list[_Job | None] = [job]   # emptied after the call: a Cancel outliving it keeps nothing
        cancel.on_cancel(lambda: link[0] is not None and link[0].abort(STOPPED))
        threading.Thread(target=job.work, name="hearth-fetch", daemon=True).start()
        wake.wait(self.total_s)
        result, reason = job.conclude(TIMED_OUT)
        link[0] = None
        if result is None:
            job.joined.wait(_JOIN_GRACE_S)   # the shut socket ends it; a DNS lookup is not waited for
            text = (f"Stopped fetching {url}: the user cancelled." if reason == STOPPED else
                    f"Couldn't fetch {url}: it took longer than {self.total_s:g} seconds.")
            result = ToolResult(text, ok=False)
        return ToolResult(result.text, result.ok, time.monotonic() - started, result.truncated)

    # -- the result ------------------------------------------------------------------------------

    def compose(self, hops: list[str], final: str, title: str, body: str, partial: bool) -> ToolResult:
        """'URL:', 'Redirected from:', 'Title:', then the text, cut to fit the budget with a note."""
        head = [f"URL: {final}"]
        if hops:
            head.append(f"Redirected from: {' → '.join(hops)}")
        if title:
            head.append(f"Title: {_cut_line(title, _MAX_TITLE_CHARS)}")
        header = "\n".join(head) + "\n\n"
        body = body.strip() or _EMPTY
        notes = []
        if partial:
            notes.append(f"[Only the first {human_size(self.max_bytes)} of the page were read; the rest was "
                         "not downloaded.]")
        room = self.budget - len(header) - sum(len(note) + 2 for note in notes) - 120
        cut = len(body) > room
        if cut:
            shown = body[:max(room, 0)]
            space = shown.rfind(" ", max(len(shown) - 200, 0))
            shown = shown[:space] if space > 0 else shown
            notes.insert(0, f"[… cut here: the page's text is {len(body):,} characters; the first "
                            f"{len(shown):,} are shown.]")
            body = shown.rstrip()
        text = header + body + ("\n\n" + "\n".join(notes) if notes else "")
        return ToolResult(text, ok=True, truncated=cut or partial)


class _Job:
    """One call's work on its own thread. `abort` (a Stop, or the deadline) shuts its sockets, and
    the first of `finish` and `conclude` decides what the call answers."""

    def __init__(self, tool: FetchTool, url: str) -> None:
        self.tool = tool
        self.url = url
        self.stop = Cancel()          # closers registered here shut this job's sockets
        self.wake: threading.Event | None = None
        self.joined = threading.Event()
        self._lock = threading.Lock()
        self._result: ToolResult | None = None
        self._reason: str | None = None
        self._settled = False

    def abort(self, reason: str) -> None:
        with self._lock:
            if self._settled or self._reason is not None:
                return
            self._reason = reason
            wake = self.wake
        self.stop.cancel()
        if wake is not None:
            wake.set()

    def conclude(self, reason: str) -> tuple[ToolResult | None, str | None]:
        """The finished result, or None and why not (the work is then aborted)."""
        with self._lock:
            self._settled = True
            result, self._result = self._result, None
            if result is None and self._reason is None:
                self._reason = reason
            reason = self._reason
        if result is None:
            self.stop.cancel()
        return result, reason

    def work(self) -> None:
        try:
            try:
                result: ToolResult | None = self._fetch()
            except Cancelled:
                result = None
            except _Refusal as refusal:
                result = ToolResult(str(refusal), ok=False)
            except Exception as exc:  # noqa: BLE001 - never out of run(): the result says why
                result = ToolResult(f"Couldn't fetch {self.url}: {_reason(exc, self.tool)}.", ok=False)
            with self._lock:
                if self._settled or self._reason is not None:
                    return
                self._result = result
                wake = self.wake
            if wake is not None:
                wake.set()
        finally:
            self.joined.set()

    # -- the request ----------------------------------------------------------------------------

    def _fetch(self) -> ToolResult:
        tool = self.tool
        timeout = httpx2.Timeout(tool.total_s, connect=tool.connect_s)
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity",
                   "Accept": "text/html,application/xhtml+xml,text/plain;q=0.9,application/json;q=0.9,*/*;q=0.5"}
        hops: list[str] = []
        url = self.url
        with httpx2.Client(timeout=timeout, headers=headers, follow_redirects=False) as client:
            while True:
                request = client.build_request("GET", url, extensions={"trace": self._trace})
                response = client.send(request, stream=True)
                self.stop.on_cancel(response.close)
                try:
                    if response.status_code not in _REDIRECT_STATUS or "location" not in response.headers:
                        return self._answer(response, hops)
                    target = self._redirect_target(response, hops)
                finally:
                    response.close()
                hops.append(url)
                url = target

    def _redirect_target(self, response: httpx2.Response, hops: list[str]) -> str:
        here = str(response.url)
        location = response.headers["location"].strip()
        try:
            target = urljoin(here, location)
            scheme = urlsplit(target).scheme.lower()
        except ValueError:
            raise _Refusal(f"Couldn't fetch {self._named(here, hops)}: it redirected to an invalid address "
                           f"({_cut_line(location, 200)}).") from None
        if scheme not in SCHEMES:
            raise _Refusal(f"Refused: {self._named(here, hops)} redirected to {_cut_line(target, 300)}, which is not "
                           "an http:// or https:// address; Hearth follows only web redirects.")
        if len(hops) >= self.tool.max_redirects:
            raise _Refusal(f"Couldn't fetch {self.url}: too many redirects (more than {self.tool.max_redirects}; "
                           f"the last went from {here} to {_cut_line(target, 300)}).")
        return target

    def _answer(self, response: httpx2.Response, hops: list[str]) -> ToolResult:
        tool = self.tool
        final = str(response.url)
        named = self._named(final, hops)
        if response.status_code >= 400:
            phrase = response.reason_phrase or ""
            raise _Refusal(f"Couldn't fetch {named}: the server answered HTTP {response.status_code}"
                           f"{' ' + phrase if phrase else ''}.")
        if 300 <= response.status_code < 400:
            raise _Refusal(f"Couldn't fetch {named}: the server answered HTTP {response.status_code} "
                           "without an address to go to.")
        media = response.headers.get("content-type", "").split(";")[0].strip().lower()
        kind = _kind(media)
        if kind == "binary":
            raise _Refusal(f"Refused: {named} is {_describe(media)} ({media}), not a page of text. "
                           "The fetch tool reads HTML, text, Markdown, JSON, XML and PDF.")
        declared = _content_length(response)
        if kind == "pdf" and declared is not None and declared > tool.max_bytes:
            raise _Refusal(f"Refused: {named} is a PDF of {human_size(declared)}; the fetch tool reads PDFs up to "
                           f"{human_size(tool.max_bytes)}.")
        data, partial = self._body(response)
        if not kind:
            kind = _sniff(data)
            if kind == "binary":
                raise _Refusal(f"Refused: {named} is binary data of an unnamed type, not a page of text.")
        if kind == "pdf":
            return self._pdf(data, partial, final, hops)
        text = _decode(data, response.charset_encoding, html=kind == "html")
        title = ""
        if kind == "html":
            title, text = html_to_text(text, final)
        elif kind == "json" and not partial:
            try:
                text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
            except ValueError:
                pass
        return tool.compose(hops, final, title, text, partial)

    def _body(self, response: httpx2.Response) -> tuple[bytes, bool]:
        """At most `max_bytes` of the body; True when there was more (left unread)."""
        cap = self.tool.max_bytes
        data = bytearray()
        for chunk in response.iter_bytes():
            self.stop.raise_if_cancelled()
            data += chunk
            if len(data) > cap:
                del data[cap:]
                return bytes(data), True
        self.stop.raise_if_cancelled()
        return bytes(data), False

    def _pdf(self, data: bytes, partial: bool, final: str, hops: list[str]) -> ToolResult:
        named = self._named(final, hops)
        if partial:
            raise _Refusal(f"Refused: {named} is a PDF larger than {human_size(self.tool.max_bytes)}, the most the "
                           "fetch tool reads.")
        try:
            extracted = extract_text("page.pdf", data=data, max_chars=self.tool.budget * 2, cancel=self.stop)
        except ExtractionError as exc:
            raise _Refusal(f"Couldn't read the PDF at {named}: {exc.reason}.") from None
        return self.tool.compose(hops, final, "", extracted.text, False)

    def _trace(self, event: str, info: dict) -> None:
        """httpcore's trace hook: each new connection's socket is shut when the job is aborted."""
        if not (event.endswith("connect_tcp.complete") or event.endswith("start_tls.complete")):
            return
        sock = stream_socket(info.get("return_value"))
        if sock is not None:
            self.stop.on_cancel(lambda: wake_reader(sock))

    def _named(self, url: str, hops: list[str]) -> str:
        return f"{url} (redirected from {self.url})" if hops else url


# -- arguments ----------------------------------------------------------------------------------

def _checked_url(arguments: Any) -> str:
    usage = 'Give the page\'s full address as "url", e.g. {"url": "https://example.com/page"}.'
    if not isinstance(arguments, dict):
        raise _Refusal(f"The arguments must be an object. {usage}")
    url = arguments.get("url")
    if url is None:
        raise _Refusal(f"The fetch tool needs a \"url\". {usage}")
    if not isinstance(url, str):
        raise _Refusal(f"\"url\" must be a string, not {type(url).__name__}. {usage}")
    url = url.strip()
    if not url:
        raise _Refusal(f"\"url\" is empty. {usage}")
    if len(url) > _MAX_URL_CHARS:
        raise _Refusal(f"The address is {len(url):,} characters long; the fetch tool takes at most "
                       f"{_MAX_URL_CHARS:,}.")
    shown = _cut_line(url, 300)
    if any(ord(ch) < 0x20 or ch == "\x7f" for ch in url):
        raise _Refusal(f"Refused: {shown!r} contains control characters; it is not a web address.")
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = parts.hostname
    except ValueError:
        raise _Refusal(f"Refused: {shown} is not a valid web address. {usage}") from None
    rest = url[len(parts.scheme) + 1:] if scheme else url
    if not scheme or (scheme not in SCHEMES and "://" not in url and ("." in scheme or rest[:1].isdigit())):
        raise _Refusal(f"Refused: {shown} is not a full web address (it has no http:// or https://). "
                       f"Hearth fetches exactly the address the user approves. {usage}")
    if scheme not in SCHEMES:
        raise _Refusal(f"Refused: {shown} is a {scheme}: address. The fetch tool reads only http:// and "
                       "https:// web pages.")
    if not host:
        raise _Refusal(f"Refused: {shown} has no host name. {usage}")
    if any(ch.isspace() for ch in host):
        raise _Refusal(f"Refused: {shown} has spaces in its host name; it is not a valid web address.")
    try:
        httpx2.URL(url)
    except (httpx2.InvalidURL, ValueError) as exc:
        raise _Refusal(f"Refused: {shown} is not a valid web address ({exc}).") from None
    return url


# -- content ------------------------------------------------------------------------------------

def _kind(media: str) -> str:
    """'html', 'json', 'xml', 'text', 'pdf', 'binary', or '' (no type given: look at the bytes)."""
    if not media:
        return ""
    top = media.split("/", 1)[0]
    if top in ("image", "audio", "video", "font", "model", "multipart"):
        return "binary"
    if media in ("text/html", "application/xhtml+xml"):
        return "html"
    if media in ("application/json", "text/json") or media.endswith("+json"):
        return "json"
    if media in ("application/xml", "text/xml") or media.endswith("+xml"):
        return "xml"
    if top == "text" or media in _TEXT_APPLICATION:
        return "text"
    if media in ("application/pdf", "application/x-pdf"):
        return "pdf"
    return "binary"


def _describe(media: str) -> str:
    top, _, sub = media.partition("/")
    if top == "image":
        return "an image"
    if top in ("audio", "video"):
        return f"{top}"
    if top == "font":
        return "a font"
    if sub in _ARCHIVES:
        return "an archive"
    if sub == "octet-stream":
        return "binary data"
    if "msword" in sub or "officedocument" in sub or "ms-excel" in sub or "ms-powerpoint" in sub:
        return "an office document"
    return "a file of a kind the fetch tool cannot read"


def _sniff(data: bytes) -> str:
    start = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if start.startswith(b"%pdf-"):
        return "pdf"
    if start.startswith((b"<!doctype html", b"<html")):
        return "html"
    if b"\x00" in data[:8192] and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "binary"
    return "text"


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def _decode(data: bytes, declared: str | None, *, html: bool) -> str:
    """A byte-order mark, else the declared charset (the header's, then an HTML page's own meta),
    else UTF-8; undecodable bytes become U+FFFD."""
    for bom, codec in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                       (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(codec, errors="replace")
    candidates = [declared]
    if html:
        match = _META_CHARSET.search(data[:4096])
        candidates.append(match.group(1).decode("ascii", "replace") if match else None)
    for name in candidates:
        if not name:
            continue
        try:
            return data.decode(codecs.lookup(name).name, errors="replace")
        except LookupError:
            continue
    return data.decode("utf-8", errors="replace")


def html_to_text(html: str, base: str) -> tuple[str, str]:
    """(title, readable text) of an HTML page; links in its content become "text (address)"."""
    parser = _Readable(base)
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # noqa: BLE001 - html.parser copes with nearly anything; keep what it read
        pass
    return parser.title, parser.text()


_SKIP = frozenset({"script", "style", "noscript", "svg", "math", "template", "iframe", "object", "canvas"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_PARAGRAPHS = _HEADINGS | {"p", "pre", "blockquote", "table", "ul", "ol", "dl", "section", "article", "figure", "hr"}
_BLOCKS = _PARAGRAPHS | {"html", "body", "main", "div", "header", "footer", "nav", "aside", "li", "dt", "dd", "tr",
                         "thead", "tbody", "tfoot", "caption", "form", "fieldset", "figcaption", "address",
                         "details", "summary", "br"}
_CHROME = frozenset({"nav", "header", "footer", "aside"})   # a link here shows its text only


class _Readable(HTMLParser):
    def __init__(self, base: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base = base
        self.title = ""
        self._title: list[str] | None = None
        self._base_seen = False
        self._skip = 0
        self._in_head = False
        self._pre = 0
        self._lists = 0
        self._chrome = 0
        self._link: tuple[str | None, int] | None = None   # (address, where its text starts in _line)
        self._line: list[str] = []
        self._raw = False              # the line holds <pre> text: keep its spaces
        self._prefix = ""              # "## " or "- ", for the next line with text
        self._lines: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip += 1
            return
        if self._skip:
            return
        if tag == "title":
            if not self.title and self._title is None:
                self._title = []
            return
        if tag == "head":
            self._in_head = True
            return
        if tag == "base" and not self._base_seen:
            href = dict(attrs).get("href")
            if href:
                self._base_seen = True
                try:
                    self.base = urljoin(self.base, href.strip())
                except ValueError:
                    pass
            return
        if tag == "body" or tag in _BLOCKS:
            self._in_head = False
        if tag in _CHROME:
            self._chrome += 1
        if tag in _PARAGRAPHS and not (tag in ("ul", "ol") and self._lists):
            self._break(blank=True)
        elif tag in _BLOCKS:
            self._break()
        if tag in ("ul", "ol"):
            self._lists += 1
        elif tag == "li":
            self._prefix = "  " * max(self._lists - 1, 0) + "- "
        elif tag in _HEADINGS:
            self._prefix = "#" * int(tag[1]) + " "
        elif tag == "pre":
            self._pre += 1
        elif tag in ("td", "th"):
            if "".join(self._line).strip():
                self._line.append(" | ")
        elif tag == "a":
            self._end_link()
            self._link = (self._address(dict(attrs).get("href")), len(self._line))

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip = max(self._skip - 1, 0)
            return
        if self._skip:
            return
        if tag == "title":
            if self._title is not None:
                self.title = " ".join("".join(self._title).split())
                self._title = None
            return
        if tag == "head":
            self._in_head = False
            return
        if tag == "a":
            self._end_link()
            return
        if tag in _CHROME:
            self._chrome = max(self._chrome - 1, 0)
        if tag in ("ul", "ol"):
            self._lists = max(self._lists - 1, 0)
        if tag == "pre":
            self._pre = max(self._pre - 1, 0)
        if tag in _PARAGRAPHS and not (tag in ("ul", "ol") and self._lists):
            self._break(blank=True)
        elif tag in _BLOCKS and tag != "br":
            self._break()
        if tag in _HEADINGS or tag == "li":
            self._prefix = ""

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._title is not None:
            self._title.append(data)
            return
        if self._in_head:
            return
        if not self._pre:
            self._line.append(re.sub(r"\s+", " ", data))
            return
        first, *rest = data.split("\n")
        self._line.append(first)
        self._raw = True
        for piece in rest:
            self._break(keep_empty=True)
            self._line.append(piece)
            self._raw = True

    def _address(self, href: str | None) -> str | None:
        if not href or href.strip().startswith("#"):
            return None
        try:
            address = urljoin(self.base, href.strip())
            scheme = urlsplit(address).scheme.lower()
        except ValueError:
            return None
        return address if scheme in SCHEMES else None

    def _end_link(self) -> None:
        if self._link is None:
            return
        address, start = self._link
        self._link = None
        if not address or self._chrome:
            return
        text = " ".join("".join(self._line[start:]).split())
        if text and text.rstrip("/") != address.rstrip("/"):
            self._line.append(f" ({address})")

    def _break(self, *, blank: bool = False, keep_empty: bool = False) -> None:
        text = "".join(self._line)
        text = text.rstrip() if self._raw else " ".join(text.split())
        self._line, self._raw = [], False
        if self._link is not None:
            self._link = (self._link[0], 0)
        if text:
            self._lines.append(self._prefix + text)
            self._prefix = ""
        elif keep_empty:
            self._lines.append("")
        if blank and self._lines and self._lines[-1] != "":
            self._lines.append("")

    def text(self) -> str:
        self._end_link()
        self._break()
        return re.sub(r"\n{3,}", "\n\n", "\n".join(self._lines)).strip()


# -- failures -----------------------------------------------------------------------------------

def _reason(exc: BaseException, tool: FetchTool | None) -> str:
    """A short phrase for why a request failed, from httpx's exception and what caused it."""
    chain = []
    seen: BaseException | None = exc
    while seen is not None and len(chain) < 10:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    connect_s = tool.connect_s if tool is not None else CONNECT_S
    for error in chain:
        if isinstance(error, socket.gaierror):
            return "its server name could not be found (the DNS lookup failed; check the address and the network)"
        if isinstance(error, ConnectionRefusedError):
            return "the connection was refused (nothing is answering at that address and port)"
        if isinstance(error, ssl.SSLCertVerificationError):
            return f"its security certificate could not be verified ({error.verify_message or error})"
        if isinstance(error, ssl.SSLError):
            return "a secure (https) connection could not be made"
    if isinstance(exc, httpx2.ConnectTimeout):
        return f"the server did not answer within {connect_s:g} seconds"
    if isinstance(exc, httpx2.TimeoutException):
        return "the server stopped answering"
    if isinstance(exc, httpx2.RemoteProtocolError):
        return "the server broke off its answer or sent an invalid one"
    if isinstance(exc, httpx2.ConnectError):
        return f"the connection failed ({exc or type(exc).__name__})"
    if isinstance(exc, (httpx2.UnsupportedProtocol, httpx2.InvalidURL)):
        return f"the address is not valid ({exc})"
    if isinstance(exc, httpx2.TransportError):
        return f"the connection failed ({type(exc).__name__}{': ' + str(exc) if str(exc) else ''})"
    return f"{type(exc).__name__}: {exc}"


def _content_length(response: httpx2.Response) -> int | None:
    try:
        return int(response.headers.get("content-length", ""))
    except ValueError:
        return None


def _cut_line(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"

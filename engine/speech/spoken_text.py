"""A markdown answer as a person would read it aloud: whole, or sentence by sentence as it streams.

A speech engine reads what it is given: "hash hash Setup", "asterisk asterisk", every character
of a URL, a code block symbol by symbol, the model's hidden thinking. So before speaking:

- headings, emphasis, quotes and list markers go; each heading and list item is a sentence;
- a link is said as its text, a bare URL as its domain ("docs.python.org"), an image not at all;
- a fenced code block is "Python code block, 12 lines." (or nothing, `code_blocks="skip"`);
  inline code stays, as words (`max_tokens` → "max tokens");
- a table is "Table with 3 rows: Name, Age and City." then each row as "Name: Ada, Age: 36."
  (the first `MAX_TABLE_ROWS`; then "And 4 more rows.");
- `<think>…</think>` and an unclosed `<think>` are dropped (a bare `</think>` too: in
  `spoken_text` everything before it was thinking; a stream cannot take back what it said, so
  the chat's own `ThinkSplitter` should feed only the answer);
- emoji go; "e.g." → "for example", "$5" → "5 dollars", "5-10" → "5 to 10", "#1" → "number 1",
  "C#" → "C sharp", and no "#" survives to be read as "hash".

`SentenceStream` is fed text deltas as they stream and hands back each spoken sentence as soon
as it is complete; `spoken_text` is the same machine run over a whole answer, so the two never
disagree. A sentence is complete at . ! ? once the next non-space character is seen (or the
paragraph ends) — not after "e.g.", "Dr.", an initial, inside `inline code`, before a lowercase
word, nor inside "3.14" — and code blocks and tables are spoken once they are closed.
"""
from __future__ import annotations

import html
import re
from typing import Literal
from urllib.parse import urlsplit

CodeBlocks = Literal["describe", "skip"]
MAX_TABLE_ROWS = 8
OPEN, CLOSE = "<think>", "</think>"

# Lowercased tokens after which a period never ends a sentence.
NOT_SENTENCE_ENDS = frozenset(
    "e.g. i.e. dr. mr. mrs. ms. prof. st. vs. cf. fig. approx. jr. sr. a.k.a. no. nos. vol. ca.".split()
)
LANGUAGE_NAMES = {
    "py": "Python", "python": "Python", "js": "JavaScript", "javascript": "JavaScript",
    "ts": "TypeScript", "typescript": "TypeScript", "sh": "shell", "bash": "Bash", "zsh": "shell",
    "shell": "shell", "console": "shell", "cpp": "C plus plus", "c++": "C plus plus", "cs": "C sharp",
    "csharp": "C sharp", "c#": "C sharp", "rs": "Rust", "md": "markdown", "yml": "YAML", "yaml": "YAML",
    "json": "JSON", "sql": "SQL", "html": "HTML", "css": "CSS", "toml": "TOML", "xml": "XML",
}

_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})\s*([^\s`]*)")
_HEADING = re.compile(r"^\s{0,3}#{1,6}(?:\s+(.*?))?(?:\s+#+)?\s*$")
_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_RULE = re.compile(r"^\s{0,3}([-*_])(?:\s*\1){2,}\s*$")
_ITEM = re.compile(r"^\s*(?:[-*+•]|\d{1,9}[.)])\s+(?:\[[ xX]\]\s+)?(.*)$")
_QUOTE = re.compile(r"^\s{0,3}(?:>\s?)+")
_REF_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*\S")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_BOUNDARY = re.compile(r"[.!?…]+['\"’”)\]*_]*(?=\s)")

_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)|!\[[^\]]*\]\[[^\]]*\]")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)|\[([^\]]+)\]\[[^\]]*\]")
_FOOTNOTE = re.compile(r"\[\^[^\]]+\]")
_AUTOLINK = re.compile(r"<((?:https?|ftp)://[^>\s]+)>")
_URL = re.compile(r"(?:https?://|\bwww\.)[^\s<>()\[\]]+")
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
_EMOJI = re.compile(
    "[\U0001F000-\U0001FAFF\U00002600-\U000027BF\U00002B00-\U00002BFF\U00002300-\U000023FF"
    "\uFE00-\uFE0F\u200D\u20E3\U000E0020-\U000E007F]"
)
_REPLACEMENTS = [  # (pattern, replacement), applied in order to prose (not to inline code)
    (re.compile(r"(?<!\w)e\.\s?g\.(?!\w)", re.I), "for example"),
    (re.compile(r"(?<!\w)i\.\s?e\.(?!\w)", re.I), "that is"),
    (re.compile(r"(?<!\w)etc\.", re.I), "et cetera"),
    (re.compile(r"(?<!\w)a\.k\.a\.(?!\w)", re.I), "also known as"),
    (re.compile(r"(?<!\w)approx\.", re.I), "approximately"),
    (re.compile(r"(?<!\w)vs\.?(?!\w)", re.I), "versus"),
    (re.compile(r"(?<!\w)cf\.", re.I), "compare"),
    (re.compile(r"(?<!\w)w/o(?!\w)", re.I), "without"),
    (re.compile(r"(?<!\w)w/(?=\s)", re.I), "with"),
    (re.compile(r"(?<!\w)([CF])#(?!\w)"), r"\1 sharp"),
    (re.compile(r"#(\d)"), r"number \1"),
    (re.compile(r"(?<![\w.,-])(\d+(?:\.\d+)?)\s?[-–]\s?(\d+(?:\.\d+)?)(?![\w.-])"), r"\1 to \2"),
    (re.compile(r"\$(1)(?![\d.,])"), r"\1 dollar"),
    (re.compile(r"\$(\d[\d,]*(?:\.\d+)?)"), r"\1 dollars"),
    (re.compile(r"€(\d[\d,]*(?:\.\d+)?)"), r"\1 euros"),
    (re.compile(r"£(\d[\d,]*(?:\.\d+)?)"), r"\1 pounds"),
    (re.compile(r"(?<![\w~])~\s?(?=\d)"), "about "),
    (re.compile(r"(\d)\s?[*×]\s?(?=\d)"), r"\1 times "),
    (re.compile(r"\s*(?:→|⇒|->|=>)\s*"), " to "),
    (re.compile(r"\s&\s"), " and "),
]
_MARKUP_LEFTOVERS = [
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<!\w)_(?=\S)(.+?)(?<=\S)_(?!\w)"), r"\1"),
    (re.compile(r"~~(.+?)~~"), r"\1"),
    (re.compile(r"(?<=\w)_(?=\w)"), " "),      # snake_case outside code: words
    (re.compile(r"#(?=\w)"), ""),               # hashtags: just the word
    (re.compile(r"[#*_~`^]+"), " "),            # never "hash hash" or "asterisk"
    (re.compile(r"\s*\|\s*"), ", "),
]


def spoken_text(markdown: str, *, code_blocks: CodeBlocks = "describe") -> str:
    """The whole answer as one string to hand to a speech engine."""
    return " ".join(spoken_sentences(markdown, code_blocks=code_blocks))


def spoken_sentences(markdown: str, *, code_blocks: CodeBlocks = "describe") -> list[str]:
    """The whole answer as spoken sentences, exactly as `SentenceStream` would give them."""
    close = markdown.find(CLOSE)
    if close >= 0 and OPEN not in markdown[:close]:  # the template opened <think>: all before was thought
        markdown = markdown[close + len(CLOSE):]
    stream = SentenceStream(code_blocks=code_blocks)
    return [*stream.feed(markdown), *stream.flush()]


class SentenceStream:
    """Feed markdown deltas; get back spoken sentences as soon as each one is complete.

        stream = SentenceStream()
        for delta in answer_deltas:
            for sentence in stream.feed(delta): speak(sentence)
        for sentence in stream.flush(): speak(sentence)
    """

    def __init__(self, *, code_blocks: CodeBlocks = "describe") -> None:
        self.code_blocks = code_blocks
        self._pending = ""             # text after the last newline
        self._lines: list[str] = []    # the current paragraph's lines (a list item starts its own)
        self._said = 0                 # characters of " ".join(self._lines) already handed out
        self._item_started = False     # the pending line began a list item (its paragraph is open)
        self._fence: tuple[str, str] | None = None  # (marker, language) while inside a code block
        self._fence_lines = 0
        self._table: list[str] = []
        self._thinking = False

    def feed(self, delta: str) -> list[str]:
        self._pending += delta
        out: list[str] = []
        while (newline := self._pending.find("\n")) >= 0:
            line, self._pending = self._pending[:newline], self._pending[newline + 1:]
            out += self._line(line)
        out += self._thinking_tags()
        return out + self._partial(self._pending)

    def flush(self) -> list[str]:
        """The end of the answer: say what is left (an unclosed code block is still described)."""
        out = self._line(self._pending) if self._pending else []
        self._pending = ""
        out += self._end_table() + self._end_paragraph()
        if self._fence is not None:
            out += self._end_fence()
        self._thinking = False
        return out

    # -- complete lines ---------------------------------------------------------------------
    def _line(self, line: str) -> list[str]:
        if self._thinking:
            close = line.find(CLOSE)
            if close < 0:
                return []
            self._thinking = False
            line = line[close + len(CLOSE):]
            if not line.strip():
                return []
        if self._fence is not None:
            marker = self._fence[0]
            stripped = line.strip()
            if stripped.startswith(marker) and not stripped.strip(marker[0]):
                return self._end_fence()
            self._fence_lines += 1
            return []
        opened = line.find(OPEN)
        if opened >= 0:
            before, after = line[:opened], line[opened + len(OPEN):]
            out = (self._line(before) if before.strip() else []) + self._end_table() + self._end_paragraph()
            self._thinking = True
            return out + (self._line(after) if after else [])
        line = line.replace(CLOSE, "")
        out: list[str] = []
        if self._table:
            if line.strip().startswith("|") or (line.count("|") and _TABLE_SEPARATOR.match(line)):
                self._table.append(line)
                return []
            out += self._end_table()
        if (fence := _FENCE.match(line)) and not (fence.group(1)[0] == "`" and "`" in line[fence.end():]):
            self._fence, self._fence_lines = (fence.group(1), fence.group(2)), 0
            return out + self._end_paragraph()
        quote = _QUOTE.match(line)
        if quote:
            line = line[quote.end():]
        stripped = line.strip()
        if not stripped:
            return out + self._end_paragraph()
        if _TABLE_SEPARATOR.match(line) and "|" in line and self._lines and "|" in self._lines[-1]:
            header = self._lines.pop()  # a table written without a leading pipe
            self._said = min(self._said, len(" ".join(self._lines)))
            out += self._end_paragraph()
            self._table = [header, line]
            return out
        if stripped.startswith("|"):
            self._table = [line]
            return out + self._end_paragraph()
        if _SETEXT.match(line) and self._lines:  # the paragraph above was a heading
            return out + self._end_paragraph()
        if _RULE.match(line) or _SETEXT.match(line) or _REF_DEFINITION.match(line):
            return out + self._end_paragraph()
        if heading := _HEADING.match(line):
            return out + self._end_paragraph() + _sentences_of(heading.group(1) or "")
        if item := _ITEM.match(line):
            if not self._item_started:
                out += self._end_paragraph()
            self._item_started = False
            self._lines = [item.group(1).strip()]
            return out + self._complete(self._lines)
        self._lines.append(stripped)
        return out + self._complete(self._lines)

    # -- the line still arriving --------------------------------------------------------------
    def _thinking_tags(self) -> list[str]:
        """Act on <think> at the start of the unfinished line and on its </think> at once, so the
        answer's first sentence need not wait for the end of its line."""
        out: list[str] = []
        if not self._thinking and self._fence is None and self._pending.lstrip().startswith(OPEN):
            out = self._end_table() + self._end_paragraph()
            self._thinking = True
            self._pending = self._pending.lstrip()[len(OPEN):]
        if self._thinking and (close := self._pending.find(CLOSE)) >= 0:
            self._thinking = False
            self._pending = self._pending[close + len(CLOSE):]
        return out

    def _partial(self, text: str) -> list[str]:
        """Sentences already complete in the unfinished last line, when it is plainly prose."""
        if self._thinking or self._fence is not None or self._table:
            return []
        body = text.lstrip()
        if quote := _QUOTE.match(body):
            body = body[quote.end():].lstrip()
        if not body or not any(c.isspace() for c in body) or "|" in body or "<" in body:
            return []
        if body[0] in "#`~=[" or _RULE.match(body) or _SETEXT.match(body):
            return []  # a heading, fence or rule: short, said when the line ends
        if item := _ITEM.match(body):
            out = [] if self._item_started else self._end_paragraph()
            self._item_started = True
            return out + self._complete([item.group(1)])
        if self._item_started:
            return []
        return self._complete([*self._lines, body])

    # -- sentences out --------------------------------------------------------------------------
    def _complete(self, lines: list[str]) -> list[str]:
        """Hand out each sentence of the paragraph `lines` that is known to be finished."""
        text = " ".join(lines)
        out: list[str] = []
        for match in _BOUNDARY.finditer(text, self._said):
            following = text[match.end():].lstrip()
            if not following:
                break  # the next character decides; it has not arrived
            if _ends_sentence(text, match.start(), following[0]):
                out += _sentences_of(text[self._said:match.end()])
                self._said = match.end()
        return out

    def _end_paragraph(self) -> list[str]:
        rest = " ".join(self._lines)[self._said:]
        self._lines, self._said, self._item_started = [], 0, False
        return _sentences_of(rest)

    def _end_fence(self) -> list[str]:
        assert self._fence is not None
        language, lines = self._fence[1], self._fence_lines
        self._fence, self._fence_lines = None, 0
        if self.code_blocks == "skip":
            return []
        name = LANGUAGE_NAMES.get(language.lower(), language.capitalize() if language.isalpha() else "")
        described = f"{name[:1].upper()}{name[1:]} code block" if name else "Code block"
        return [f"{described}, {lines} line{'' if lines == 1 else 's'}."]

    def _end_table(self) -> list[str]:
        rows = [_cells(line) for line in self._table if not _TABLE_SEPARATOR.match(line)]
        self._table = []
        rows = [row for row in rows if any(row)]
        if not rows:
            return []
        header, body = rows[0], rows[1:]
        columns = [cell for cell in header if cell]
        said = [f"Table with {len(body)} row{'' if len(body) == 1 else 's'}"
                + (f": {_and_list(columns)}." if columns else ".")]
        for row in body[:MAX_TABLE_ROWS]:
            pairs = [f"{name}: {value}" if name else value for name, value in zip(header, row) if value]
            if pairs:
                said.append(_finish(", ".join(pairs)))
        if len(body) > MAX_TABLE_ROWS:
            more = len(body) - MAX_TABLE_ROWS
            said.append(f"And {more} more row{'' if more == 1 else 's'}.")
        return said


def _ends_sentence(text: str, punct_at: int, following: str) -> bool:
    if text[:punct_at].count("`") % 2:
        return False  # inside inline code
    if text[punct_at] != ".":
        return True
    if following.islower():
        return False
    token = text[:punct_at + 1].rsplit(None, 1)[-1].lstrip("([\"'*_").lower()
    if token in NOT_SENTENCE_ENDS:
        return False
    return not (len(token) == 2 and token[0].isalpha() and text[punct_at - 1].isupper())  # an initial


def _sentences_of(raw: str) -> list[str]:
    """One raw sentence (or heading, or list item) as spoken text; nothing if nothing is left."""
    spoken = _speakable(raw)
    return [_finish(spoken)] if any(c.isalnum() for c in spoken) else []


def _finish(sentence: str) -> str:
    sentence = sentence.strip().rstrip(",;")
    sentence = sentence[:1].upper() + sentence[1:]
    return sentence if sentence[-1:] in (".", "!", "?", ":", "…") else sentence + "."


def _speakable(text: str) -> str:
    """Inline markdown to plain words: links to their text, URLs to domains, code to words."""
    codes: list[str] = []

    def keep_code(match: re.Match) -> str:
        code = re.sub(r"([^\w\s])\1+", r"\1", match.group(2))  # "##" is said once, as "hash"
        codes.append(re.sub(r"[_\s]+", " ", code).strip())
        return chr(0xF0000 + len(codes) - 1)

    text = _CODE_SPAN.sub(keep_code, text)
    text = html.unescape(re.sub(r"\\([\\`*_{}\[\]()#+\-.!|>~<])", r"\1", text))
    text = _IMAGE.sub("", text)
    text = _LINK.sub(lambda m: m.group(1) or m.group(2), text)
    text = _FOOTNOTE.sub("", text)
    text = _AUTOLINK.sub(lambda m: _domain(m.group(1)), text)
    text = _URL.sub(_said_url, text)
    text = _TAG.sub(lambda m: " " if m.group(0).lower().startswith("<br") else "", text)
    text = _EMOJI.sub("", text)
    for pattern, replacement in _REPLACEMENTS:
        text = pattern.sub(replacement, text)
    for pattern, replacement in _MARKUP_LEFTOVERS:
        text = pattern.sub(replacement, text)
    text = re.sub(r"[\U000F0000-\U000F0FFF]", lambda m: codes[ord(m.group(0)) - 0xF0000], text)
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    text = re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", text)
    return text.strip().lstrip(",;:. ")


def _said_url(match: re.Match) -> str:
    url = match.group(0)
    trail = len(url) - len(url.rstrip(".,;:!?'\"”’"))
    return _domain(url[: len(url) - trail]) + url[len(url) - trail:]


def _domain(url: str) -> str:
    host = urlsplit(url if "://" in url else "http://" + url).hostname or ""
    host = host.removeprefix("www.")
    return host or "a link"


def _cells(line: str) -> list[str]:
    line = line.strip()
    line = line[1:] if line.startswith("|") else line
    line = line[:-1] if line.endswith("|") and not line.endswith("\\|") else line
    return [_speakable(cell) for cell in re.split(r"(?<!\\)\|", line)]


def _and_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]

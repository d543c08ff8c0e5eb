"""Hearth reads an answer aloud the way a person would: no "hash hash", no URLs spelled out,
no thinking, code blocks announced rather than recited — and, while the answer is still
streaming, each sentence is ready the moment it is complete."""
from __future__ import annotations

import re

import pytest

from engine.speech.spoken_text import SentenceStream, spoken_sentences, spoken_text

ANSWERS = [
    pytest.param(
        "## Getting started\n\nInstall it with **pip**, e.g. `pip install hearth_chat`. Then run *hearth*!",
        "Getting started. Install it with pip, for example pip install hearth chat. Then run hearth!",
        id="heading-emphasis-inline-code-abbreviation",
    ),
    pytest.param(
        "<think>The user wants pi. I recall 3.14159.</think>\n\nPi is about 3.14159. Dr. Smith agrees.",
        "Pi is about 3.14159. Dr. Smith agrees.",
        id="thinking-decimal-title",
    ),
    pytest.param(
        "Okay, the template opened the tag so this is thought.</think>The answer is 42.",
        "The answer is 42.",
        id="thinking-without-its-opening-tag",
    ),
    pytest.param(
        "Sure. <think>Still thinking when the model was stopped",
        "Sure.",
        id="unclosed-thinking",
    ),
    pytest.param(
        "Here is the script:\n\n```python\nimport os\n\nprint(os.getcwd())\n```\n\nIt prints the folder.",
        "Here is the script: Python code block, 3 lines. It prints the folder.",
        id="code-block",
    ),
    pytest.param(
        "Run this:\n```\nls -la\n```",
        "Run this: Code block, 1 line.",
        id="code-block-without-language",
    ),
    pytest.param(
        "| Name | Born |\n|------|-----:|\n| Ada Lovelace | 1815 |\n| Alan Turing | 1912 |\n\nBoth were pioneers.",
        "Table with 2 rows: Name and Born. Name: Ada Lovelace, Born: 1815. Name: Alan Turing, Born: 1912. "
        "Both were pioneers.",
        id="table",
    ),
    pytest.param(
        "Read [the wave docs](https://docs.python.org/3/library/wave.html) or https://www.example.com/a?b=1.\n"
        "![diagram](diagram.png)",
        "Read the wave docs or example.com.",
        id="links-bare-url-image",
    ),
    pytest.param(
        "Great question! 🎉 Let's go 🚀✨\n\n- apples\n- pears, i.e. fruit\n- [x] done item\n\n"
        "1. First step\n2) Second step.",
        "Great question! Let's go. Apples. Pears, that is fruit. Done item. First step. Second step.",
        id="emoji-and-lists",
    ),
    pytest.param(
        "Prices range $5-10 (~7 on average) vs. €20 for C# devs. Tip #1: tag it #python, not ### like this.",
        "Prices range 5 dollars to 10 (about 7 on average) versus 20 euros for C sharp devs. "
        "Tip number 1: tag it python, not like this.",
        id="symbols-and-hashes",
    ),
    pytest.param(
        "> Quoted *emphasis*, __strong__ and ~~struck~~ words.\n\n---\n\nSetext title\n============\nBody text → done ✅",
        "Quoted emphasis, strong and struck words. Setext title. Body text to done.",
        id="quote-rule-setext-arrow",
    ),
    pytest.param(
        "Use the `max_tokens` setting, see [docs][1] and note[^2].\n\n[1]: https://example.com/docs",
        "Use the max tokens setting, see docs and note.",
        id="reference-links-footnotes",
    ),
    pytest.param(
        "Mix 2 * 3 cups &amp; stir<br>well. J. R. R. Tolkien wrote it, etc. Then stop.",
        "Mix 2 times 3 cups and stir well. J. R. R. Tolkien wrote it, et cetera. Then stop.",
        id="entities-tags-initials-etc",
    ),
]


@pytest.mark.parametrize("markdown, spoken", ANSWERS)
def test_an_answer_is_read_out_as_a_person_would(markdown, spoken):
    said = spoken_text(markdown)
    assert said == spoken
    assert not re.search(r"[#*`|_~]|https?:|\]\(", said), said


def test_code_blocks_can_be_skipped_entirely():
    answer = "Here:\n\n```bash\necho hi\n```\n\nDone."
    assert spoken_text(answer, code_blocks="skip") == "Here: Done."


def test_a_long_table_is_summarised_after_a_few_rows():
    rows = "\n".join(f"| {n} | {n * n} |" for n in range(1, 13))
    said = spoken_sentences(f"| n | square |\n|---|---|\n{rows}\n")
    assert said[0] == "Table with 12 rows: n and square."
    assert said[1] == "N: 1, square: 1."
    assert said[-1] == "And 4 more rows."
    assert len(said) == 1 + 8 + 1


def test_nothing_but_markup_says_nothing():
    assert spoken_text("---\n\n```\n```\n\n🎉🎉") == "Code block, 0 lines."
    assert spoken_text("### \n\n* * *\n\n<think>only thought</think>") == ""


def tokens(text: str) -> list[str]:
    """Deltas the way a model streams them: a space and a few characters at a time."""
    return re.findall(r"\s*\S{1,3}|\s+", text)


STREAMED_ANSWER = (
    "<think>Let me think about this. Maybe 2 steps.</think>Sure! Here is how, e.g. on Linux. "
    "Dr. Who knows 3.14 is pi.\n\n"
    "1. Install the package. It takes a minute.\n"
    "2. Run it:\n\n```sh\nhearth speak \"Hello. World.\"\nexit 0\n```\n\n"
    "| Key | Meaning |\n|---|---|\n| F9 | talk |\n\nThat's all. Enjoy!"
)


def test_streaming_gives_each_sentence_as_soon_as_it_is_complete():
    stream = SentenceStream()
    heard: list[tuple[str, str]] = []  # (sentence, the text that had arrived when it came out)
    arrived = ""
    for delta in tokens(STREAMED_ANSWER):
        arrived += delta
        heard += [(sentence, arrived) for sentence in stream.feed(delta)]
    heard += [(sentence, arrived) for sentence in stream.flush()]
    sentences = [sentence for sentence, _ in heard]

    assert sentences == spoken_sentences(STREAMED_ANSWER)
    assert sentences == [
        "Sure!", "Here is how, for example on Linux.", "Dr. Who knows 3.14 is pi.",
        "Install the package.", "It takes a minute.", "Run it:", "Shell code block, 2 lines.",
        "Table with 1 row: Key and Meaning.", "Key: F9, Meaning: talk.", "That's all.", "Enjoy!",
    ]
    when = dict(heard)
    # A sentence is out once the next word has begun — not at the end of its line or the answer.
    assert re.search(r"Sure! \S{1,3}$", when["Sure!"])
    assert re.search(r"Linux\. \S{1,3}$", when["Here is how, for example on Linux."])
    assert re.search(r"package\. \S{1,3}$", when["Install the package."])
    # Code blocks and tables are spoken only once they are closed.
    assert re.search(r"exit 0\n```\s*\|?$", when["Shell code block, 2 lines."])
    assert "| F9 | talk |\n\n" in when["Key: F9, Meaning: talk."]
    assert when["Enjoy!"] == STREAMED_ANSWER


@pytest.mark.parametrize("markdown", [param.values[0] for param in ANSWERS if param.id != "thinking-without-its-opening-tag"])
def test_streaming_one_character_at_a_time_says_the_same_as_the_whole(markdown):
    stream = SentenceStream()
    said = [sentence for char in markdown for sentence in stream.feed(char)] + stream.flush()
    assert said == spoken_sentences(markdown)


def test_a_stream_never_splits_decimals_abbreviations_or_list_numbers():
    stream = SentenceStream()
    said: list[str] = []
    for delta in ["The value is 3", ".", "14 ", "as Dr", ". ", "Lee", " said, e", ".", "g", ". here", ". ", "Next"]:
        said += stream.feed(delta)
    assert said == ["The value is 3.14 as Dr. Lee said, for example here."]
    assert stream.flush() == ["Next."]


def test_any_mix_of_markup_streams_as_whole_and_never_reads_symbols_out():
    import random

    pieces = ["# ", "## Title", "\n", "\n\n", "- ", "1. ", "**", "*", "_", "```py", "```", "~~~", "| a | b |",
              "|---|---|", "<think>", "e.g.", "Dr.", " 3.14", ". ", "! ", "? ", "Hello", " world", "> ", "---",
              "[link](http://x.y/z)", "https://a.b/c", "🎉", "===", "$5-10", "#1", "C#", "\\*", "&amp;", "<br>", "x|y"]
    rng = random.Random(18)
    for _ in range(400):
        markdown = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 30)))
        whole = spoken_sentences(markdown)
        stream = SentenceStream()
        streamed = [s for i in range(0, len(markdown), 3) for s in stream.feed(markdown[i:i + 3])] + stream.flush()
        assert streamed == whole, markdown
        for sentence in whole if "`" not in markdown else []:  # inline code is said as written
            assert not re.search(r"[#*`|_~]|://", sentence), (markdown, sentence)

"""A small library of someone's documents in every format knowledge reads, each holding facts
found in no other file, and the questions a user would ask about them. Shared by the knowledge
tests and bench/knowledge.py; the tests here check that each format's text comes out whole."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

# (file name, title, fact sentences, topic sentences around them); the facts answer QUESTIONS.
DOCUMENTS = [
    ("lighthouse.md", "Lighthouse keeper handbook",
     ["The Varnholm lighthouse lamp is lit forty minutes before sunset every evening."],
     ["Keepers log the weather at dawn and dusk.", "The fog horn is tested on the first Monday of each month.",
      "Spare lenses are stored in the oil room below the lantern gallery."]),
    ("sourdough.txt", "Sourdough notes",
     ["After shaping, the dough proofs for fourteen hours in the fridge before baking."],
     ["The starter is fed with rye flour and water.", "Bake in a preheated cast iron pot with the lid on.",
      "Score the loaf with a razor just before it goes in."]),
    ("library_fees.py", "Library late fees",
     ["Late fees are 35 cents per day and never more than 12 euros for one book."],
     ["Members can borrow up to eight books at once.", "Reference books cannot leave the reading room."]),
    ("shipping.js", "Shop shipping rules",
     ["Shipping is free for orders above 75 dollars; below that it costs 6.90."],
     ["Parcels leave the warehouse every weekday at noon.", "Returns are accepted within thirty days."]),
    ("office.html", "Contact and opening hours",
     ["Our office in Tromsø opens at 8:30 and closes at 16:00 on weekdays."],
     ["Visitors sign in at the front desk.", "Parking is available behind the building."]),
    ("annual_report.pdf", "Annual report 2023",
     ["The Orchid Valley solar farm produced 48.2 gigawatt hours of electricity in 2023."],
     ["Revenue grew steadily across all regions.", "The company hired forty new engineers.",
      "Maintenance costs fell after the new inverters were installed."]),
    ("hr_policy.docx", "Staff handbook",
     ["Every employee receives 27 days of paid vacation per calendar year."],
     ["Expense claims are submitted within one month.", "Remote work is agreed with your team lead."]),
    ("astronomy_club.md", "Astronomy club",
     ["The club telescope, a 300 mm Dobsonian, is kept in the east shed behind the school."],
     ["Meetings take place on clear Friday nights.", "New members receive a star chart and a red torch."]),
    ("frobnic_docs.rst", "Frobnic configuration",
     ["Set the environment variable FROBNIC_CACHE_DIR to move the cache to another folder."],
     ["Frobnic reads its settings from frobnic.toml.", "Logging verbosity is raised with the --debug flag."]),
    ("travel_diary.txt", "Travel diary, summer",
     ["The ferry from Skagen to Gothenburg left at 06:15 and the crossing took three hours and twenty minutes."],
     ["We rented bicycles for the whole week.", "The youth hostel served porridge for breakfast."]),
    ("coffee_machine.pdf", "Espresso machine manual",
     ["Descale the espresso machine every 200 brewing cycles using a citric acid solution."],
     ["Fill the water tank with fresh cold water.", "Grind the beans finely for a short extraction."]),
    ("board_minutes.docx", "Minutes of the board meeting",
     ["The board approved a budget of 1.4 million for the new public swimming pool."],
     ["The treasurer presented the quarterly accounts.", "The next meeting is scheduled for March."]),
    ("museum.html", "Visiting the museum",
     ["Admission is free for children under twelve on Sundays."],
     ["The cafe on the top floor serves lunch.", "Guided tours start at the main staircase."]),
    ("greenhouse.md", "Greenhouse routine",
     ["Each tomato plant in the greenhouse gets two litres of water every morning."],
     ["Cucumbers are tied to the overhead wires.", "The vents open automatically above 26 degrees."]),
    ("upload_settings.py", "Upload settings",
     ["Attachments larger than 25 megabytes are rejected by the upload server."],
     ["Images are converted to WebP after upload.", "Virus scanning runs on every new file."]),
    ("car_log.txt", "Car maintenance log",
     ["The timing belt was replaced at 96,000 km by Garage Lindqvist in Uppsala."],
     ["The tyres were rotated in April.", "Oil changes happen every 15,000 km."]),
    ("hummingbirds.pdf", "Notes on hummingbird physiology",
     ["The heart of the bluefin hummingbird beats up to 1,260 times per minute in flight."],
     ["Hummingbirds enter torpor on cold nights.", "Nectar provides most of their energy."]),
    ("wedding.docx", "Wedding plans",
     ["The wedding reception is held at Hotel Kastanje in Utrecht."],
     ["The ceremony begins at two in the afternoon.", "Guests are asked to confirm by the end of May."]),
    ("onboarding.md", "Welcome to the office",
     ["The guest Wi-Fi password is printed on a card stuck to the kitchen fridge."],
     ["Laptops are handed out by the IT desk.", "Lunch is ordered in on Thursdays."]),
    ("volcano.html", "Mount Eldtopp",
     ["Mount Eldtopp last erupted in 1783, burying the fishing village of Kross under ash."],
     ["The summit trail is closed in winter.", "Geologists monitor the crater with seismometers."]),
    ("pet_care.txt", "Looking after Miso",
     ["Our cat Miso gets 55 grams of dry food at breakfast and again at dinner."],
     ["Miso's litter box is cleaned daily.", "The vet appointment is due in October."]),
    ("retry.go", "Retry policy",
     ["The retry backoff starts at 250 milliseconds and doubles up to a maximum of 8 seconds."],
     ["Requests time out after thirty seconds.", "Idempotent calls are the only ones retried."]),
    ("chess_club.md", "Chess club winter tournament",
     ["The winter tournament is played with the Swiss system over seven rounds."],
     ["Games use a clock of ninety minutes per player.", "Entry costs ten euros for members."]),
    ("rooms.docx", "Meeting rooms",
     ["Room 4B has an Epson EB-W49 projector and seats fourteen people."],
     ["Book rooms through the calendar.", "Whiteboard markers are in the top drawer."]),
]

QUESTIONS = [
    ("How long before sunset is the Varnholm lamp switched on?", "lighthouse.md"),
    ("For how many hours does the dough rise in the refrigerator?", "sourdough.txt"),
    ("What is the maximum late fee for a single library book?", "library_fees.py"),
    ("Above what order total is delivery free?", "shipping.js"),
    ("When does the Tromsø office close?", "office.html"),
    ("How much electricity did the Orchid Valley solar farm generate?", "annual_report.pdf"),
    ("How many days of paid holiday do employees get?", "hr_policy.docx"),
    ("Where is the club's telescope stored?", "astronomy_club.md"),
    ("Which environment variable changes where the cache is stored?", "frobnic_docs.rst"),
    ("How long was the ferry crossing to Gothenburg?", "travel_diary.txt"),
    ("How often should I descale the coffee machine?", "coffee_machine.pdf"),
    ("What budget was approved for the swimming pool?", "board_minutes.docx"),
    ("Do kids get into the museum for free?", "museum.html"),
    ("How much water does each tomato plant receive?", "greenhouse.md"),
    ("What is the largest file size the upload server accepts?", "upload_settings.py"),
    ("Which garage replaced the timing belt?", "car_log.txt"),
    ("How fast can a hummingbird's heart beat?", "hummingbirds.pdf"),
    ("Where is the wedding reception?", "wedding.docx"),
    ("Where can visitors find the wireless network password?", "onboarding.md"),
    ("When did Mount Eldtopp last erupt?", "volcano.html"),
    ("How much food does Miso eat at each meal?", "pet_care.txt"),
    ("What is the initial delay before a request is retried?", "retry.go"),
    ("How many rounds does the winter chess tournament have?", "chess_club.md"),
    ("Which projector is installed in room 4B?", "rooms.docx"),
]

FILLER = ("This page is kept up to date by the people who use it, and changes are announced at the "
          "monthly meeting. Older versions are kept in the archive for reference. ")


def build_corpus(folder: Path, *, filler_paragraphs: int = 3) -> Path:
    """Write DOCUMENTS into `folder` (made if missing) and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, title, facts, topic in DOCUMENTS:
        paragraphs = [" ".join(topic[:2]), *facts, " ".join(topic[2:] or topic[:1]),
                      *[FILLER * 2 for _ in range(filler_paragraphs)]]
        write_document(folder / name, title, paragraphs)
    return folder


def write_document(path: Path, title: str, paragraphs: list[str]) -> None:
    suffix = path.suffix
    if suffix == ".pdf":
        # The fact on page 2, so page locations are tested too.
        write_pdf(path, [[title, "", *paragraphs[:1]], paragraphs[1:]])
    elif suffix == ".docx":
        write_docx(path, title, paragraphs)
    elif suffix == ".html":
        body = "".join(f"<p>{p}</p>" for p in paragraphs)
        path.write_text(f"<!doctype html><html><head><title>{title}</title><style>p {{color: red}}</style>"
                        f"<script>var tracking = 'should never be indexed';</script></head>"
                        f"<body><h1>{title}</h1>{body}</body></html>", encoding="utf-8")
    elif suffix == ".py":
        comments = "\n".join(f"# {line}" for p in paragraphs for line in textwrap.wrap(p, 90))
        path.write_text(f'"""{title}."""\n\n{comments}\n\n\ndef handle(request):\n    return request\n', encoding="utf-8")
    elif suffix in (".js", ".go"):
        comments = "\n".join(f"// {line}" for p in paragraphs for line in textwrap.wrap(p, 90))
        path.write_text(f"// {title}\n\n{comments}\n\nfunction main() {{ return 0; }}\n", encoding="utf-8")
    elif suffix == ".md":
        path.write_text(f"# {title}\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
    else:
        path.write_text(f"{title}\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")


def write_pdf(path: Path, pages: list[list[str]]) -> None:
    """A minimal valid PDF (Helvetica text, one content stream per page), written by hand so no
    PDF library is needed to make test files; pypdf reads it back like any other."""
    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b"", b"<< /Type /Font /Subtype /Type1 "
                            b"/BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"]
    kids = []
    for page in pages:
        lines = [wrapped for paragraph in page for wrapped in (textwrap.wrap(paragraph, 85) or [""])]
        ops = "BT /F1 11 Tf 14 TL 56 780 Td " + " ".join(f"({escape(line)}) Tj T*" for line in lines) + " ET"
        stream = ops.encode("cp1252")
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        content_number = len(objects)
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> "
                       b"/Contents %d 0 R >>" % content_number)
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % k for k in kids), len(kids))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))


def write_docx(path: Path, title: str, paragraphs: list[str]) -> None:
    import docx

    document = docx.Document()
    document.add_heading(title, level=1)
    for paragraph in paragraphs:
        if "projector" in paragraph:   # one fact lives in a table, as room lists do
            table = document.add_table(rows=2, cols=2)
            table.cell(0, 0).text, table.cell(0, 1).text = "Room", "Equipment"
            table.cell(1, 0).text, table.cell(1, 1).text = "4B", paragraph
        else:
            document.add_paragraph(paragraph)
    document.save(str(path))


# ----------------------------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_corpus(tmp_path_factory.mktemp("corpus"))


def _fact(name: str) -> str:
    return next(facts[0] for file, _, facts, _ in DOCUMENTS if file == name)


def _words(text: str) -> str:
    return " ".join(text.split())


def test_a_hand_written_pdf_reads_back_page_by_page(corpus: Path) -> None:
    from engine.knowledge.documents import read_document

    path = corpus / "annual_report.pdf"
    document = read_document(str(path), path.read_bytes())

    assert document.kind == "pdf" and document.page_count == 2
    first, second = (document.text[start:end] for start, end in document.pages)
    assert "Annual report 2023" in first
    assert _fact("annual_report.pdf") in _words(second)


def test_a_word_document_keeps_its_heading_paragraphs_and_tables(corpus: Path) -> None:
    from engine.knowledge.documents import read_document

    path = corpus / "rooms.docx"
    document = read_document(str(path), path.read_bytes())

    assert document.text.startswith("# Meeting rooms")
    assert "| 4B | " + _fact("rooms.docx") + " |" in document.text
    assert "Book rooms through the calendar." in document.text


def test_an_html_page_gives_its_words_without_scripts_or_styles(corpus: Path) -> None:
    from engine.knowledge.documents import read_document

    path = corpus / "volcano.html"
    document = read_document(str(path), path.read_bytes())

    assert document.kind == "html"
    assert document.text.startswith("# Mount Eldtopp")
    assert _fact("volcano.html") in document.text
    assert "tracking" not in document.text and "color" not in document.text


def test_every_question_has_one_file_and_every_format_is_there() -> None:
    names = {name for name, *_ in DOCUMENTS}
    assert len(QUESTIONS) >= 20 and {file for _, file in QUESTIONS} <= names
    assert {Path(name).suffix for name in names} >= {".md", ".txt", ".py", ".js", ".html", ".pdf", ".docx", ".rst"}

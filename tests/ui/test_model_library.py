"""The model library window, end to end: real huggingface_hub against a local hub, real
downloads, the real library scanner, and the real engine loading what was downloaded."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMenu

from app import paths
from app.gui.library_controller import LibraryController
from app.gui.main_window_controller import HearthController
from app.settings import Settings
from tests.support.fake_hub import FakeHub, isolate_hf_token, make_gguf_bytes

TINY_REPO = "test-org/tiny-chat-GGUF"
TINY_FILE = "tiny-chat-Q4_1.gguf"
SLOW_REPO = "test-org/slow-GGUF"
SLOW_FILE = "slow-Q4_K_M.gguf"
SLOW_SIZE = 3_000_000
BROKEN_REPO = "test-org/broken-GGUF"
BROKEN_FILE = "broken-Q4_K_M.gguf"
GATED_REPO = "test-org/gated-GGUF"
GATED_FILE = "gated-Q4_K_M.gguf"
TOKEN = "hf_test_token_123"


@pytest.fixture(autouse=True)
def token_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    return isolate_hf_token(monkeypatch, tmp_path)


@pytest.fixture
def hub(starter_model: Path):
    with FakeHub() as fake:
        fake.add_file(TINY_REPO, TINY_FILE, starter_model)  # served in place, ~100 MB on loopback
        fake.add_file(SLOW_REPO, SLOW_FILE, make_gguf_bytes(SLOW_SIZE, seed=3))
        fake.add_file(BROKEN_REPO, BROKEN_FILE, make_gguf_bytes(200_000, seed=4))
        fake.add_repo(GATED_REPO, gated=True)
        fake.add_file(GATED_REPO, GATED_FILE, make_gguf_bytes(150_000, seed=5))
        fake.valid_tokens.add(TOKEN)
        yield fake


class App:
    """Hearth as launched by the user, with its model library attached."""

    def __init__(self, qtbot, hub: FakeHub, *, start: bool = True) -> None:
        self.hearth = HearthController()
        qtbot.addWidget(self.hearth.window)
        self.hearth.window.show()
        if self.hearth.library is None:  # start() makes it; this one must talk to the test hub first
            self.hearth.library = LibraryController(self.hearth.window, self.hearth.settings, self.hearth.models, self.hearth.engine)
        self.library: LibraryController = self.hearth.library
        self.library.use_hub(hub.endpoint)
        if start:
            self.hearth.start()
        self.dialog = self.library.dialog
        self._closed = False

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.library.shutdown()
            self.hearth.shutdown()


@pytest.fixture
def launch(qtbot, hub):
    Settings().set("chat/temperature", 0.0)
    Settings().set("chat/max_tokens", 12)
    Settings().set("engine/n_ctx", 1024)
    apps: list[App] = []

    def make(start: bool = True) -> App:
        app = App(qtbot, hub, start=start)
        apps.append(app)
        return app

    yield make
    for app in reversed(apps):
        app.close()


def search_and_download(qtbot, dialog, query: str, repo_id: str, filename: str):
    """Type a query (or a pasted link), pick the repo, pick the file, press Download."""
    dialog.tabs.setCurrentWidget(dialog.search_tab)
    dialog.search_box.clear()
    qtbot.keyClicks(dialog.search_box, query)
    qtbot.keyClick(dialog.search_box, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: repo_id in dialog.result_ids(), timeout=10000)
    if filename not in dialog.file_names():
        results = dialog.results
        item = results.item(dialog.result_ids().index(repo_id))
        qtbot.mouseClick(results.viewport(), Qt.MouseButton.LeftButton, pos=results.visualItemRect(item).center())
        qtbot.waitUntil(lambda: filename in dialog.file_names(), timeout=10000)
    assert dialog.select_file(filename)
    assert dialog.download_button.isEnabled()
    qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
    key = f"{repo_id}/{filename}"
    assert dialog.tabs.currentWidget() is dialog.downloads_tab
    return dialog.download_rows[key]


def picker_paths(window) -> list[str]:
    return [window.model_picker.itemData(i) for i in range(window.model_picker.count())]


def library_files(models: Path) -> list[Path]:
    return [p for p in models.rglob("*") if p.is_file() and ".partial" not in p.relative_to(models).parts]


def test_find_download_and_chat_with_a_model_from_hugging_face(qtbot, hub, launch):
    app = launch()
    window, dialog = app.hearth.window, app.dialog
    qtbot.waitUntil(lambda: app.hearth.engine.ready, timeout=60000)
    qtbot.waitUntil(lambda: window.model_picker.count() >= 1, timeout=10000)  # the bundled model
    assert "(bundled)" in window.model_picker.currentText()

    # Chat → Model library… (Ctrl+L) opens the window, not modal.
    action = app.library.open_action
    assert action.shortcut().toString() == "Ctrl+L"
    chat_menu = next(m for m in window.menuBar().findChildren(QMenu) if m.title() == "&Chat")
    assert action in chat_menu.actions()
    action.trigger()
    assert dialog.isVisible() and not dialog.isModal()

    hub.faults.throttle_bps = 150_000_000  # about a second: progress has time to show
    row = search_and_download(qtbot, dialog, "tiny-chat", TINY_REPO, TINY_FILE)
    seen: list[int] = []
    row.progress.valueChanged.connect(seen.append)
    details: list[str] = []
    qtbot.waitUntil(lambda: details.append(row.detail.text()) or row.state in ("finished", "failed"), timeout=60000)
    assert row.state == "finished", row.error.text()
    assert any(0 < v < 1000 for v in seen), seen
    assert any(" of " in d and "/s" in d for d in details), details[-5:]
    downloaded = paths.models_dir() / "test-org__tiny-chat-GGUF" / TINY_FILE
    assert row.path == str(downloaded) and downloaded.is_file()
    assert row.use_button.isVisible()

    # It shows in the library and in the main window's model picker.
    qtbot.waitUntil(lambda: str(downloaded) in dialog.installed_paths(), timeout=10000)
    qtbot.waitUntil(lambda: str(downloaded) in picker_paths(window), timeout=10000)
    label = window.model_picker.itemText(picker_paths(window).index(str(downloaded)))
    assert "Q4_1" in label and "MB" in label and "bundled" not in label
    assert "(bundled)" in window.model_picker.currentText()  # the current model stays selected

    # "Use this model" from the Installed tab restarts the engine with it.
    dialog.tabs.setCurrentWidget(dialog.installed_tab)
    assert dialog.select_installed(str(downloaded))
    qtbot.mouseClick(dialog.use_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: app.hearth.engine.plan.local.model_path == downloaded and app.hearth.engine.ready,
                    timeout=60000)
    qtbot.waitUntil(lambda: window.model_picker.currentData() == str(downloaded), timeout=10000)

    # And it answers in the main window.
    composer = window.composer
    composer.edit.setFocus()
    qtbot.keyClicks(composer.edit, "Say hello.")
    with qtbot.waitSignal(app.hearth.answers.answer_finished, timeout=60000) as finished:
        qtbot.keyClick(composer.edit, Qt.Key.Key_Return)
    answer = app.hearth.store.get_message(finished.args[0])
    assert answer.state == "complete" and answer.content.strip()


def test_a_damaged_download_is_reported_and_never_reaches_the_library(qtbot, hub, launch):
    app = launch(start=False)
    app.library.open_dialog()
    hub.faults.corrupt = True
    link = f"https://huggingface.co/{BROKEN_REPO}/blob/main/{BROKEN_FILE}"  # a pasted link goes straight to the file
    row = search_and_download(qtbot, app.dialog, link, BROKEN_REPO, BROKEN_FILE)
    qtbot.waitUntil(lambda: row.state == "failed", timeout=30000)
    assert row.error.isVisible()
    assert "checksum" in row.error.text() and "deleted" in row.error.text()
    assert not row.token_box.isVisible()
    assert row.resume_button.text() == "Retry"
    models = paths.models_dir()
    assert library_files(models) == []
    assert not list((models / ".partial").glob("*.part"))
    app.library.refresh()
    qtbot.wait(300)
    assert not any("broken" in p for p in app.dialog.installed_paths())


def test_pause_keeps_the_bytes_and_resume_continues_even_after_a_restart(qtbot, hub, launch):
    first = launch(start=False)
    first.library.open_dialog()
    hub.faults.throttle_bps = 1_000_000
    row = search_and_download(qtbot, first.dialog, "slow", SLOW_REPO, SLOW_FILE)
    qtbot.waitUntil(lambda: row.progress.value() > 100, timeout=20000)
    qtbot.mouseClick(row.pause_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: row.state == "paused", timeout=10000)
    assert row.resume_button.isVisible() and not row.pause_button.isVisible()
    assert "Paused at" in row.detail.text()
    downloader = first.library.downloader
    kept = downloader.partial_size(SLOW_REPO, SLOW_FILE)
    assert 0 < kept < SLOW_SIZE
    assert not downloader.target_path(SLOW_REPO, SLOW_FILE).exists()

    # Quit and launch again: the download is listed, paused, and resumes where it stopped.
    first.close()
    second = launch(start=False)
    second.library.open_dialog()
    second.dialog.tabs.setCurrentWidget(second.dialog.downloads_tab)
    key = f"{SLOW_REPO}/{SLOW_FILE}"
    row = second.dialog.download_rows[key]
    assert row.state == "paused" and row.resume_button.isVisible()
    assert row.progress.value() == int(1000 * kept / SLOW_SIZE)
    hub.faults.throttle_bps = None
    hub.cdn_ranges.clear()
    qtbot.mouseClick(row.resume_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: row.state == "finished", timeout=30000)
    assert hub.cdn_ranges and hub.cdn_ranges[0] == f"bytes={kept}-"
    target = second.library.downloader.target_path(SLOW_REPO, SLOW_FILE)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == hub.repos[SLOW_REPO].files[SLOW_FILE].sha256


def test_cancel_deletes_the_partial_file(qtbot, hub, launch):
    app = launch(start=False)
    app.library.open_dialog()
    hub.faults.throttle_bps = 1_000_000
    row = search_and_download(qtbot, app.dialog, "slow", SLOW_REPO, SLOW_FILE)
    qtbot.waitUntil(lambda: row.progress.value() > 50, timeout=20000)
    key = row.key
    qtbot.mouseClick(row.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: key not in app.dialog.download_rows, timeout=10000)
    assert app.library.downloader.partial_size(SLOW_REPO, SLOW_FILE) == 0
    assert library_files(paths.models_dir()) == []


def test_a_gated_model_asks_for_a_token_and_downloads_once_it_is_given(qtbot, hub, launch, token_file):
    app = launch(start=False)
    dialog = app.dialog
    app.library.open_dialog()

    # A newer search replaces an older one's results, whichever answers last.
    dialog.search_box.setText("test-org")
    qtbot.keyClick(dialog.search_box, Qt.Key.Key_Return)
    dialog.search_box.setText("gated")
    qtbot.keyClick(dialog.search_box, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dialog.result_ids() == [GATED_REPO], timeout=10000)
    qtbot.wait(300)
    assert dialog.result_ids() == [GATED_REPO]
    assert "needs a token" in dialog.results.item(0).text()

    row = search_and_download(qtbot, dialog, "gated", GATED_REPO, GATED_FILE)
    qtbot.waitUntil(lambda: row.state == "failed", timeout=20000)
    assert row.token_box.isVisible()
    assert "gated" in row.error.text() and "token" in row.error.text()
    qtbot.keyClicks(row.token_edit, TOKEN)
    qtbot.mouseClick(row.token_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: row.state == "finished", timeout=20000)
    assert token_file.read_text() == TOKEN
    assert Path(row.path).name == GATED_FILE


def test_catalog_gpu_and_installed_tabs(qtbot, hub, launch, tmp_path):
    junk = tmp_path / "not-a-model.gguf"
    junk.write_bytes(b"this is not a GGUF file at all")
    Settings().set_list("model/user_files", [str(junk)])
    app = launch(start=False)
    dialog = app.dialog
    app.library.open_dialog()

    # Installed: the bundled model is usable; a broken file is listed, greyed, with its reason.
    qtbot.waitUntil(lambda: str(junk) in dialog.installed_paths(), timeout=10000)
    row = dialog.installed_paths().index(str(junk))
    reason = dialog.installed.item(row, 1)
    assert reason.text().startswith("Can't be used:") and "GGUF" in reason.text()
    assert reason.foreground().color().name() == "#9a948d"
    assert dialog.select_installed(str(junk)) and not dialog.use_button.isEnabled()
    assert str(junk) not in picker_paths(app.hearth.window)
    assert any(p.endswith(".gguf") for p in picker_paths(app.hearth.window))

    # Catalog: every entry has a fit badge; speech models are marked; vision ones bring the projector.
    qtbot.waitUntil(lambda: bool(dialog.catalog_buttons), timeout=20000)
    assert {b.text() for b in dialog.catalog_fits.values()} <= {"fits", "tight", "won't fit"}
    kinds = [dialog.catalog.item(r, 1).text() for r in range(dialog.catalog.rowCount())]
    assert "Speech (Whisper)" in kinds and "Chat + vision" in kinds
    with qtbot.waitSignal(dialog.download_requested) as requested:
        qtbot.mouseClick(dialog.catalog_buttons["smolvlm-256m-instruct"], Qt.MouseButton.LeftButton)
    repo_id, filename, mmproj = requested.args
    assert repo_id == "ggml-org/SmolVLM-256M-Instruct-GGUF" and mmproj.startswith("mmproj-")
    # That repository is not on the test hub: the row says so in plain words.
    row = dialog.download_rows[f"{repo_id}/{filename}"]
    qtbot.waitUntil(lambda: row.state == "failed", timeout=20000)
    assert "No model called" in row.error.text()

    # GPU: what llama.cpp offers, and the layers setting.
    assert "Checking" not in dialog.gpu_label.text()
    assert dialog.gpu_layers.value() == -1 and dialog.gpu_layers.text() == "All layers"
    dialog.gpu_layers.setValue(0)
    assert Settings().get("engine/n_gpu_layers") == 0


def test_a_vision_model_brings_its_projector_and_a_speech_model_its_whole_folder(qtbot, hub, launch):
    vision_repo = "test-org/tiny-vision-GGUF"
    hub.add_file(vision_repo, "tiny-vision-Q8_0.gguf", make_gguf_bytes(120_000, seed=6))
    hub.add_file(vision_repo, "mmproj-tiny-vision-f16.gguf", make_gguf_bytes(60_000, seed=7))
    speech_repo = "Systran/faster-whisper-tiny.en"  # the catalog's whisper-tiny.en, served by the test hub
    for name, size in (("model.bin", 90_000), ("config.json", 200), ("tokenizer.json", 3_000),
                       ("vocabulary.txt", 1_000)):
        hub.add_file(speech_repo, name, make_gguf_bytes(size, seed=size))
    app = launch(start=False)
    dialog = app.dialog
    app.library.open_dialog()

    row = search_and_download(qtbot, dialog, vision_repo, vision_repo, "tiny-vision-Q8_0.gguf")
    assert "mmproj-tiny-vision-f16.gguf is downloaded along" in dialog.files_title.text()
    qtbot.waitUntil(lambda: row.state == "finished", timeout=20000)
    folder = paths.models_dir() / "test-org__tiny-vision-GGUF"
    assert sorted(p.name for p in folder.iterdir()) == ["mmproj-tiny-vision-f16.gguf", "tiny-vision-Q8_0.gguf"]

    qtbot.waitUntil(lambda: "whisper-tiny.en" in dialog.catalog_buttons, timeout=20000)
    dialog.tabs.setCurrentWidget(dialog.catalog_tab)
    qtbot.mouseClick(dialog.catalog_buttons["whisper-tiny.en"], Qt.MouseButton.LeftButton)
    row = dialog.download_rows[speech_repo]
    qtbot.waitUntil(lambda: row.state == "finished", timeout=20000)
    whisper = paths.models_dir() / "Systran__faster-whisper-tiny.en"
    assert row.path == str(whisper)
    assert sorted(p.name for p in whisper.iterdir()) == ["config.json", "model.bin", "tokenizer.json",
                                                          "vocabulary.txt"]
    qtbot.mouseClick(row.use_button, Qt.MouseButton.LeftButton)
    assert Settings().get("voice/model") == str(whisper)

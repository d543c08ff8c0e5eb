"""Images the user is about to send: dropped, pasted or picked; prepared off the GUI thread
(Pillow intake), shown as removable thumbnails, stored once per content hash when sent."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QObject, Signal
from PySide6.QtWidgets import QFileDialog, QToolButton

from app import paths
from app.gui.operations import run_in_background
from engine.knowledge.documents import is_document
from engine.vision import ImageIntakeError, PreparedImage, prepare_image, store_images
from ui.attachment_tray import AttachmentTray
from ui.image_viewer import show_image

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.gif *.webp *.bmp *.tif *.tiff *.avif);;All files (*)"
MODEL_SUFFIXES = (".gguf",)


class ImageController(QObject):
    problem = Signal(str)           # a message naming the file; nothing is lost
    model_files_dropped = Signal(list)
    document_files_dropped = Signal(list)   # PDF, Word, text, code…: app/gui/document_controller.py takes them

    def __init__(self, composer, parent_window) -> None:
        super().__init__()
        self.composer = composer
        self.window = parent_window
        self.tray = AttachmentTray()
        self.tray.removed.connect(self._removed)
        self.tray.activated.connect(self._open)
        self.pending: dict[str, PreparedImage] = {}
        self._preparing = 0
        self.attach_button = QToolButton(text="Image…")
        self.attach_button.setObjectName("attachButton")
        self.attach_button.setToolTip("Attach images (you can also drop or paste them)")
        self.attach_button.clicked.connect(self.pick)
        composer.add_above_widget(self.tray)
        composer.add_tool_widget(self.attach_button)
        composer.edit.files_pasted.connect(self.add_files)
        composer.edit.image_pasted.connect(self.add_qimage)
        composer.allow_empty_send_when(lambda: bool(self.pending))

    @property
    def busy(self) -> bool:
        return self._preparing > 0

    def pick(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self.window, "Attach images", str(Path.home()), IMAGE_FILTER)
        self.add_files(files)

    def add_files(self, files: list[str]) -> None:
        models = [f for f in files if f.lower().endswith(MODEL_SUFFIXES)]
        if models:
            self.model_files_dropped.emit(models)
        documents = [f for f in files if f not in models and is_document(Path(f).name)]
        if documents:
            self.document_files_dropped.emit(documents)
        for file in files:
            if file not in models and file not in documents:
                self._prepare(Path(file), Path(file).name)

    def add_qimage(self, image) -> None:
        if image is None or image.isNull():
            self.problem.emit("The clipboard held an image Hearth could not read.")
            return
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        image.save(buffer, "PNG")
        self._prepare(bytes(data.data()), "pasted image.png")

    def _prepare(self, source, name: str) -> None:
        self._preparing += 1

        def done(prepared: PreparedImage) -> None:
            self._preparing -= 1
            if prepared.sha256 in self.pending:
                return
            self.pending[prepared.sha256] = prepared
            self.tray.add_image(prepared.sha256, prepared.data, name)

        def failed(exc: BaseException) -> None:
            self._preparing -= 1
            self.problem.emit(str(exc) if isinstance(exc, ImageIntakeError) else f"{name}: {exc}")

        run_in_background(lambda: prepare_image(source, name=name), on_success=done, on_failure=failed)

    def _removed(self, key: str) -> None:
        self.pending.pop(key, None)

    def _open(self, key: str) -> None:
        if key in self.pending:
            show_image(self.pending[key].data, self.tray.label(key), self.window)

    def take_for_sending(self) -> list[dict]:
        """Write pending images to the attachments folder; raises ImageIntakeError (e.g. disk full)."""
        return self.write(list(self.pending.values()))

    def write(self, images: list[PreparedImage]) -> list[dict]:
        """Write prepared images to the attachments folder, as the store records them."""
        return store_images(images, paths.attachments_dir())

    def restore(self, images: list[PreparedImage]) -> None:
        """Images of a question taken back from the queue return to the tray."""
        for prepared in images:
            if prepared.sha256 not in self.pending:
                self.pending[prepared.sha256] = prepared
                self.tray.add_image(prepared.sha256, prepared.data, prepared.name)

    def clear(self) -> None:
        self.pending.clear()
        self.tray.clear()

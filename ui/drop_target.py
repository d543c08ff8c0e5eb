"""Accepts files and images dropped anywhere on the window: images become attachments, GGUF
files become models. Only local files are taken; remote URLs are never fetched."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Signal


class DropTarget(QObject):
    files_dropped = Signal(list)     # local paths
    image_dropped = Signal(object)   # QImage (dragged from another app without a file)

    def watch(self, widget) -> None:
        widget.setAcceptDrops(True)
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            mime = event.mimeData()
            if mime.hasImage() or any(u.isLocalFile() for u in mime.urls()):
                event.acceptProposedAction()
                return True
        elif event.type() == QEvent.Type.Drop:
            mime = event.mimeData()
            files = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
            if files:
                self.files_dropped.emit(files)
            elif mime.hasImage():
                self.image_dropped.emit(mime.imageData())
            else:
                return False
            event.acceptProposedAction()
            return True
        return False

"""The transcript: a scrolling column of MessageWidgets. A long conversation opens with its
newest messages and loads earlier ones on demand, so opening 1,000 messages stays fast."""
from __future__ import annotations

from PySide6.QtCore import QTimer, QUrl, Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from ui.message_widget import MessageWidget


EARLIER_AT_PX = 40


class ClickableLabel(QLabel):
    clicked = Signal()

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()
        super().mouseReleaseEvent(event)


class MessageList(QScrollArea):
    regenerate_requested = Signal(int)
    version_requested = Signal(int, int)
    edit_requested = Signal(int)
    link_activated = Signal(QUrl)
    image_clicked = Signal(str)
    tool_decided = Signal(int, str)   # tool step id, 'once' | 'chat' | 'denied'
    load_earlier_requested = Signal()
    context_note_clicked = Signal()   # the banner: show where the model's memory begins

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._container = QWidget()
        self._container.setObjectName("transcript")
        self._layout = QVBoxLayout(self._container)
        self._layout.setContentsMargins(16, 8, 16, 8)
        self._layout.setSpacing(8)
        self.load_earlier_button = QPushButton("Show earlier messages")
        self.load_earlier_button.clicked.connect(self.load_earlier_requested.emit)
        self.load_earlier_button.setVisible(False)
        # A banner pinned above the transcript, outside the scrolled column: always in view, and
        # showing it does not re-lay out every message (~50 ms for a long chat).
        self.context_note = ClickableLabel(self)
        self.context_note.clicked.connect(self.context_note_clicked.emit)
        self.context_note.setCursor(Qt.CursorShape.PointingHandCursor)
        self.context_note.setToolTip("Show the oldest message the model still sees")
        self.context_note.setObjectName("contextNote")
        self.context_note.setTextFormat(Qt.TextFormat.PlainText)
        self.context_note.setWordWrap(True)
        self.context_note.setVisible(False)
        self.empty_note = QLabel("Ask anything. Everything stays on this computer.")
        self.empty_note.setObjectName("emptyNote")
        self.empty_note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._layout.addWidget(self.load_earlier_button)
        self._layout.addWidget(self.empty_note)
        self._footer: QWidget | None = None  # below the last message (questions queued behind it)
        self._layout.addStretch(1)
        self.setWidget(self._container)
        self._widgets: dict[int, MessageWidget] = {}
        self._order: list[int] = []
        self._stick_to_bottom = True
        self._asked_for_earlier = False
        self._keep_from_bottom: int | None = None
        self._restoring = False
        self.verticalScrollBar().rangeChanged.connect(self._on_range_changed)
        self.verticalScrollBar().valueChanged.connect(self._on_scrolled)

    # -- building --------------------------------------------------------------
    def clear(self) -> None:
        self._keep_from_bottom = None
        for widget in self._widgets.values():
            widget.setParent(None)
            widget.deleteLater()
        self._widgets.clear()
        self._order.clear()
        self.set_context_note("")
        self.empty_note.setVisible(True)
        self._stick_to_bottom = True

    def _connect(self, widget: MessageWidget) -> None:
        widget.regenerate_requested.connect(self.regenerate_requested.emit)
        widget.version_requested.connect(self.version_requested.emit)
        widget.edit_requested.connect(self.edit_requested.emit)
        widget.link_activated.connect(self.link_activated.emit)
        widget.image_clicked.connect(self.image_clicked.emit)
        widget.tool_decided.connect(self.tool_decided.emit)

    def append_message(self, widget: MessageWidget) -> MessageWidget:
        self._connect(widget)
        self._widgets[widget.message_id] = widget
        self._order.append(widget.message_id)
        self._layout.insertWidget(self._layout.count() - (2 if self._footer else 1), widget)
        self.empty_note.setVisible(False)
        self._refresh_actions()
        return widget

    def prepend_messages(self, widgets: list[MessageWidget]) -> None:
        """Insert older messages above, keeping the reader's place."""
        bar = self.verticalScrollBar()
        from_bottom = bar.maximum() - bar.value()
        self._stick_to_bottom = False
        for offset, widget in enumerate(widgets):
            self._connect(widget)
            self._widgets[widget.message_id] = widget
            self._layout.insertWidget(2 + offset, widget)
        self._order[:0] = [w.message_id for w in widgets]
        if widgets:
            self.empty_note.setVisible(False)
        self._refresh_actions()
        # Held until the reader scrolls: the new messages settle their heights over a few layouts.
        self._keep_from_bottom = from_bottom

    def remove_from(self, message_id: int) -> None:
        if message_id not in self._order:
            return
        index = self._order.index(message_id)
        for mid in self._order[index:]:
            widget = self._widgets.pop(mid)
            widget.setParent(None)
            widget.deleteLater()
        del self._order[index:]
        self.empty_note.setVisible(not self._order)
        self._refresh_actions()

    def set_footer(self, widget: QWidget) -> None:
        """A widget that stays under the last message, whatever is appended."""
        self._footer = widget
        self._layout.insertWidget(self._layout.count() - 1, widget)

    def set_has_earlier(self, has_earlier: bool) -> None:
        self.load_earlier_button.setVisible(has_earlier)
        self._asked_for_earlier = False

    def set_context_note(self, text: str) -> None:
        if text == self.context_note.text() and self.context_note.isVisible() == bool(text):
            return
        self.context_note.setText(text)
        self.context_note.setVisible(bool(text))
        self._place_context_note()

    def _place_context_note(self) -> None:
        if not self.context_note.isVisible():
            self.setViewportMargins(0, 0, 0, 0)
            return
        width = self.viewport().width()  # not over the scroll bar
        height = self.context_note.heightForWidth(width) if self.context_note.wordWrap() else -1
        height = max(height, self.context_note.sizeHint().height())
        self.context_note.setGeometry(0, 0, width, height)
        self.setViewportMargins(0, height, 0, 0)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        if self.context_note.isVisible():
            self._place_context_note()

    # -- access ----------------------------------------------------------------
    def widget_for(self, message_id: int) -> MessageWidget | None:
        return self._widgets.get(message_id)

    def message_ids(self) -> list[int]:
        return list(self._order)

    def widgets(self) -> list[MessageWidget]:
        return [self._widgets[mid] for mid in self._order]

    def oldest_id(self) -> int | None:
        return self._order[0] if self._order else None

    def _refresh_actions(self) -> None:
        last_user = next((mid for mid in reversed(self._order) if self._widgets[mid].role == "user"), None)
        last = self._order[-1] if self._order else None
        for mid, widget in self._widgets.items():
            widget.set_actions(can_regenerate=(mid == last), can_edit=(mid == last_user))

    def set_busy(self, busy: bool) -> None:
        """While an answer streams, regenerate and edit wait."""
        if busy:
            for widget in self._widgets.values():
                widget.set_actions(can_regenerate=False, can_edit=False)
        else:
            self._refresh_actions()

    # -- scrolling -------------------------------------------------------------
    def _on_scrolled(self, value: int) -> None:
        bar = self.verticalScrollBar()
        if not self._restoring:
            self._keep_from_bottom = None
        self._stick_to_bottom = value >= bar.maximum() - 24
        # Reaching the top of a long chat brings the page before it, as if it had been there.
        if value <= EARLIER_AT_PX and bar.maximum() > 0 and self.load_earlier_button.isVisible() \
                and not self._asked_for_earlier:
            self._asked_for_earlier = True
            QTimer.singleShot(0, self.load_earlier_requested.emit)

    def _on_range_changed(self, _min: int, maximum: int) -> None:
        if self._keep_from_bottom is not None:
            self._restoring = True
            try:
                self.verticalScrollBar().setValue(maximum - self._keep_from_bottom)
            finally:
                self._restoring = False
        elif self._stick_to_bottom:
            self.verticalScrollBar().setValue(maximum)

    def scroll_to_bottom(self) -> None:
        self._keep_from_bottom = None
        self._stick_to_bottom = True
        self.verticalScrollBar().setValue(self.verticalScrollBar().maximum())

"""One message in the transcript. A streaming answer grows by appending to its buffer; the
visible text is refreshed at most ~30 times a second and only the last paragraph is re-rendered.
When it finishes, its prose is joined back into whole blocks."""
from __future__ import annotations

import sys

from PySide6.QtCore import QTimer, QUrl, Qt, Signal
from PySide6.QtGui import QGuiApplication, QKeySequence, QPixmap
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from ui.code_block import CodeBlock
from ui.markdown_segments import Segment, split_markdown
from ui.safe_text import SafeTextView

ROLE_TITLES = {"user": "You", "assistant": "Hearth", "system": "System"}
REFRESH_MS = 33
# The keys for the last answer's other versions. On macOS Option+Left / Right move the cursor by
# a word while typing, so there Command+Option takes their place.
EARLIER_ANSWER_KEYS = "Ctrl+Alt+Left" if sys.platform == "darwin" else "Alt+Left"
LATER_ANSWER_KEYS = "Ctrl+Alt+Right" if sys.platform == "darwin" else "Alt+Right"
READ_ALOUD, STOP_READING = "Read aloud", "Stop reading"
READ_ALOUD_TIP = "Read this answer aloud (Esc stops)"


def _keys(portable: str) -> str:
    return QKeySequence(portable).toString(QKeySequence.SequenceFormat.NativeText)


class ClickableThumb(QLabel):
    clicked = Signal(str)

    def __init__(self, path: str, parent=None) -> None:
        super().__init__(parent)
        self.path = path
        pixmap = QPixmap(path)
        if not pixmap.isNull():
            self.setPixmap(pixmap.scaled(96, 96, Qt.AspectRatioMode.KeepAspectRatio,
                                         Qt.TransformationMode.SmoothTransformation))
        else:
            self.setText("(image missing)")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Open full size")

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        self.clicked.emit(self.path)


class MessageWidget(QFrame):
    regenerate_requested = Signal(int)
    edit_requested = Signal(int)
    version_requested = Signal(int, int)  # message id, version number
    link_activated = Signal(QUrl)
    image_clicked = Signal(str)
    tool_decided = Signal(int, str)  # tool step id, 'once' | 'chat' | 'denied'
    read_aloud_requested = Signal(int)  # message id: read it, or stop reading it

    def __init__(self, message_id: int, role: str, content: str, *, state: str = "complete",
                 footer: str = "", error: str | None = None, image_paths: list[str] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.message_id = message_id
        self.role = role
        self.state = state
        self._text = content
        self._segments: list[Segment] = []
        self._segment_widgets: list[QWidget] = []
        self.setObjectName(f"message_{role}")
        self.setProperty("role", role)

        title = QLabel(ROLE_TITLES.get(role, role))
        title.setObjectName("messageRole")
        self._state_label = QLabel()
        self._state_label.setObjectName("messageState")
        self.copy_button = QToolButton(text="Copy")
        self.copy_button.setToolTip("Copy the whole message")
        self.copy_button.clicked.connect(lambda: QGuiApplication.clipboard().setText(self._text))
        self.regenerate_button = QToolButton(text="Regenerate")
        self.regenerate_button.setToolTip(f"Write another answer; this one is kept ({_keys(EARLIER_ANSWER_KEYS)} "
                                          f"and {_keys(LATER_ANSWER_KEYS)} switch)")
        self.regenerate_button.clicked.connect(lambda: self.regenerate_requested.emit(self.message_id))
        self.edit_button = QToolButton(text="Edit")
        self.edit_button.setToolTip("Edit this message and send it again")
        self.edit_button.clicked.connect(lambda: self.edit_requested.emit(self.message_id))
        self.read_aloud_button: QToolButton | None = None  # answers only
        if role == "assistant":
            self.read_aloud_button = QToolButton(text=STOP_READING)
            self.read_aloud_button.setMinimumWidth(self.read_aloud_button.sizeHint().width())  # no jump on toggle
            self.read_aloud_button.setText(READ_ALOUD)
            self.read_aloud_button.setToolTip(READ_ALOUD_TIP)
            self.read_aloud_button.clicked.connect(lambda: self.read_aloud_requested.emit(self.message_id))
        self.versions = (1, 1)  # (the answer on show, how many Regenerate has made)
        self._can_regenerate = False
        # ‹ n / m › is built only for an answer that has versions: a long chat opens with dozens
        # of messages, and three more widgets each would slow that down for nothing.
        self.earlier_version_button: QToolButton | None = None
        self.version_label: QLabel | None = None
        self.later_version_button: QToolButton | None = None
        self._header = header = QHBoxLayout()
        header.setContentsMargins(0, 0, 0, 0)
        header.addWidget(title)
        header.addWidget(self._state_label)
        header.addStretch(1)
        for button in (self.edit_button, self.regenerate_button, self.read_aloud_button, self.copy_button):
            if button is not None:
                button.setAutoRaise(True)
                header.addWidget(button)
        self.edit_button.setVisible(False)
        self.regenerate_button.setVisible(False)

        self._body = QVBoxLayout()
        self._body.setContentsMargins(0, 0, 0, 0)
        self._body.setSpacing(4)
        self._footer = QLabel(footer)
        self._footer.setObjectName("messageFooter")
        self._footer.setTextFormat(Qt.TextFormat.PlainText)  # errors quote servers and file names
        self._footer.setVisible(bool(footer))  # an empty line under every question otherwise
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.setSpacing(4)
        layout.addLayout(header)
        if image_paths:
            thumbs = QHBoxLayout()
            for path in image_paths:
                thumb = ClickableThumb(path)
                thumb.clicked.connect(self.image_clicked.emit)
                thumbs.addWidget(thumb)
            thumbs.addStretch(1)
            layout.addLayout(thumbs)
        self._tools = QVBoxLayout()  # the answer's tool calls, above its words (built when there are any)
        self._tools.setContentsMargins(0, 0, 0, 0)
        self._tools.setSpacing(4)
        self._tool_cards: dict = {}
        self._thinking = None  # built when the model thinks
        layout.addLayout(self._tools)
        layout.addLayout(self._body)
        layout.addWidget(self._footer)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self._render)
        self._render()
        self.set_state(state, error)

    # -- thinking --------------------------------------------------------------
    def append_thinking(self, delta: str) -> None:
        """A reasoning model's thought streams into its own folded section above the answer."""
        box = self._thinking_section()
        box.append(delta)

    def set_thinking(self, text: str, seconds: float | None, tokens: int | None = None) -> None:
        box = self._thinking_section()
        if box.text() != text:
            box.set_text(text)
        box.finish(seconds, tokens)

    def retract(self, text: str) -> None:
        """The end of the answer shown so far was thinking: take it back out of the answer."""
        if text and self._text.endswith(text):
            self._text = self._text[:len(self._text) - len(text)]
            self.flush()

    def thinking_text(self) -> str:
        return self._thinking.text() if self._thinking is not None else ""

    def _thinking_section(self):
        if self._thinking is None:
            from ui.thinking_section import ThinkingSection

            self._thinking = ThinkingSection()
            self._tools.insertWidget(0, self._thinking)
        return self._thinking

    # -- tool calls ------------------------------------------------------------
    def show_tool_step(self, step, *, waiting: bool = False):
        """Add or update the card of one of this answer's tool calls."""
        from ui.tool_step_card import ToolStepCard

        card = self._tool_cards.get(step.id)
        if card is None:
            card = self._tool_cards[step.id] = ToolStepCard(step)
            card.decided.connect(self.tool_decided.emit)
            self._tools.addWidget(card)
        else:
            card.update_step(step)
        if waiting:
            card.set_waiting(True)
        return card

    def tool_cards(self) -> list:
        return list(self._tool_cards.values())

    # -- content ---------------------------------------------------------------
    def text(self) -> str:
        return self._text

    def set_text(self, text: str) -> None:
        self._text = text
        self._render()

    def append(self, delta: str) -> None:
        """Cheap: buffer now, render on the next tick (≤ 30 renders a second)."""
        if self._thinking is not None:
            self._thinking.answer_began()
        self._text += delta
        if not self._timer.isActive():
            self._timer.start()

    def flush(self) -> None:
        self._timer.stop()
        self._render()

    def _render(self) -> None:
        if self.role == "assistant":
            segments = split_markdown(self._text, by_paragraph=self.state == "streaming")
        else:
            segments = [Segment("text", self._text)]
        for index, segment in enumerate(segments):
            if index < len(self._segments) and self._segments[index] == segment:
                continue
            if index < len(self._segments) and self._segments[index].kind == segment.kind and (
                    segment.kind == "text" or self._segments[index].language == segment.language):
                self._update_widget(self._segment_widgets[index], segment)
            else:
                for widget in self._segment_widgets[index:]:
                    widget.deleteLater()
                del self._segment_widgets[index:]
                del self._segments[index:]
                widget = self._make_widget(segment)
                self._segment_widgets.append(widget)
                self._body.addWidget(widget)
            if index < len(self._segments):
                self._segments[index] = segment
            else:
                self._segments.append(segment)
        for widget in self._segment_widgets[len(segments):]:
            widget.deleteLater()
        del self._segment_widgets[len(segments):]
        del self._segments[len(segments):]

    def _make_widget(self, segment: Segment) -> QWidget:
        if segment.kind == "code":
            return CodeBlock(segment.text, segment.language)
        view = SafeTextView()
        view.link_activated.connect(self.link_activated.emit)
        self._update_widget(view, segment)
        return view

    def _update_widget(self, widget: QWidget, segment: Segment) -> None:
        if isinstance(widget, CodeBlock):
            widget.set_code(segment.text)
        elif self.role == "assistant":
            widget.set_markdown(segment.text)
        else:
            widget.set_plain(segment.text)  # what the user typed is shown as typed

    def code_blocks(self) -> list[CodeBlock]:
        return [w for w in self._segment_widgets if isinstance(w, CodeBlock)]

    # -- state -----------------------------------------------------------------
    def set_state(self, state: str, error: str | None = None) -> None:
        was_streaming = self.state == "streaming"
        self.state = state
        if was_streaming and state != "streaming":
            self.flush()  # the finished answer's prose becomes whole again (see markdown_segments)
        labels = {"streaming": "typing…", "interrupted": "interrupted", "error": "failed"}
        text = labels.get(state, "")
        self._state_label.setText(text)
        self._state_label.setVisible(bool(text))
        if error:
            self._footer.setText(error)
            self._mark_footer_error(True)
            self._footer.setVisible(True)

    def _mark_footer_error(self, error: bool) -> None:
        if bool(self._footer.property("error")) != error:
            self._footer.setProperty("error", error)
            self._footer.style().unpolish(self._footer)
            self._footer.style().polish(self._footer)

    def set_editing(self, editing: bool) -> None:
        """Marked while its words wait in the composer; nothing changes until they are sent."""
        self._state_label.setText("editing…" if editing else "")
        self._state_label.setVisible(editing)

    def set_footer(self, text: str) -> None:
        self._footer.setText(text)
        self._footer.setVisible(bool(text))
        self._mark_footer_error(False)

    def add_below(self, widget: QWidget, name: str) -> None:
        """A strip other modules build under the words, above the footer (an answer's sources, a
        question's documents); one per `name`, a new one replacing the old."""
        old = self.findChild(QWidget, name)
        if old is not None:
            old.setParent(None)
            old.deleteLater()
        widget.setObjectName(name)
        self.layout().insertWidget(self.layout().indexOf(self._footer), widget)

    def set_actions(self, *, can_regenerate: bool, can_edit: bool) -> None:
        self._can_regenerate = can_regenerate and self.role == "assistant"
        self.regenerate_button.setVisible(self._can_regenerate)
        self.edit_button.setVisible(can_edit and self.role == "user")
        self._show_versions()

    def set_reading(self, reading: bool) -> None:
        """While this answer is spoken its button stops the reading."""
        if self.read_aloud_button is not None:
            self.read_aloud_button.setText(STOP_READING if reading else READ_ALOUD)

    def set_read_aloud_unavailable(self, reason: str | None) -> None:
        """No speech engine or speaker: the button stays, disabled, and its tooltip says why."""
        if self.read_aloud_button is not None:
            self.read_aloud_button.setEnabled(reason is None)
            self.read_aloud_button.setToolTip(reason or READ_ALOUD_TIP)

    # -- versions (answers kept by Regenerate) ------------------------------------
    def set_versions(self, shown: int, total: int) -> None:
        self.versions = (shown, total)
        self._show_versions()

    def show_version(self, content: str, state: str, footer: str, error: str | None) -> None:
        """Another of the answer's versions takes this one's place."""
        self._text = content
        self.set_footer(footer)
        self.state = state
        self.flush()
        self.set_state(state, error)

    def _show_versions(self) -> None:
        """‹ 2 / 3 › beside Regenerate: only on the answer that can be regenerated, and only
        once there is more than one."""
        shown, total = self.versions
        visible = self._can_regenerate and total > 1
        if self.version_label is None:
            if not visible:
                return
            self._build_version_controls()
        for widget in (self.earlier_version_button, self.version_label, self.later_version_button):
            widget.setVisible(visible)
        self.version_label.setText(f"{shown} / {total}")
        self.version_label.setToolTip(f"Answer {shown} of the {total} Regenerate has written")
        self.earlier_version_button.setEnabled(shown > 1)
        self.later_version_button.setEnabled(shown < total)

    def _build_version_controls(self) -> None:
        self.earlier_version_button = QToolButton(arrowType=Qt.ArrowType.LeftArrow, autoRaise=True)
        self.earlier_version_button.setToolTip(f"Show the earlier answer ({_keys(EARLIER_ANSWER_KEYS)})")
        self.earlier_version_button.clicked.connect(lambda: self.step_version(-1))
        self.version_label = QLabel()
        self.version_label.setObjectName("messageVersion")
        self.later_version_button = QToolButton(arrowType=Qt.ArrowType.RightArrow, autoRaise=True)
        self.later_version_button.setToolTip(f"Show the later answer ({_keys(LATER_ANSWER_KEYS)})")
        self.later_version_button.clicked.connect(lambda: self.step_version(+1))
        at = self._header.indexOf(self.edit_button)
        for offset, widget in enumerate((self.earlier_version_button, self.version_label, self.later_version_button)):
            self._header.insertWidget(at + offset, widget)

    def step_version(self, step: int) -> None:
        """Ask for the earlier (-1) or later (+1) version, if there is one."""
        shown, total = self.versions
        if 1 <= shown + step <= total:
            self.version_requested.emit(self.message_id, shown + step)

"""The main window: conversations on the left, the transcript and composer in the centre,
the engine's state in the status bar."""
from __future__ import annotations

from PySide6.QtCore import QUrl, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QComboBox, QLabel, QMainWindow, QMenu, QMessageBox, QPushButton, QSplitter,
                               QToolBar, QVBoxLayout, QWidget)

from ui.composer import Composer
from ui.safe_text import plain_tooltip
from ui.server_widgets import ServerIndicator
from ui.conversation_list import ConversationList
from ui.message_list import MessageList
from ui.message_widget import EARLIER_ANSWER_KEYS, LATER_ANSWER_KEYS


class MainWindow(QMainWindow):
    settings_requested = Signal()
    conversation_settings_requested = Signal()
    add_model_requested = Signal()
    model_chosen = Signal(str)
    undo_delete_requested = Signal()
    regenerate_last_requested = Signal()
    other_answer_requested = Signal(int)  # -1 the earlier, +1 the later of the last answer's versions
    export_open_chat_requested = Signal()
    export_all_chats_requested = Signal()
    import_chats_requested = Signal()
    assistants_requested = Signal()
    knowledge_requested = Signal()
    new_chat_with_requested = Signal(int)  # an assistant's id

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("Hearth")
        self.resize(1100, 720)
        self.conversations = ConversationList()
        self.messages = MessageList()
        self.composer = Composer()
        centre = QWidget()
        column = QVBoxLayout(centre)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.messages, 1)
        column.addWidget(self.composer)
        self.splitter = splitter = QSplitter()
        splitter.setObjectName("mainSplitter")
        splitter.addWidget(self.conversations)
        splitter.addWidget(centre)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([260, 840])
        self.setCentralWidget(splitter)

        toolbar = QToolBar("Model")
        toolbar.setObjectName("modelToolbar")
        toolbar.setMovable(False)
        toolbar.addWidget(QLabel(" Model: "))
        self.model_picker = QComboBox()
        self.model_picker.setObjectName("modelPicker")
        self.model_picker.setMinimumWidth(320)
        self.model_picker.setMaximumWidth(640)
        self.model_picker.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)  # the whole label
        self.model_picker.view().setTextElideMode(Qt.TextElideMode.ElideMiddle)  # keep the quant and size
        self.model_picker.currentIndexChanged.connect(self._show_model_tooltip)
        self.model_picker.activated.connect(lambda i: self.model_chosen.emit(self.model_picker.itemData(i) or ""))
        toolbar.addWidget(self.model_picker)
        self.addToolBar(toolbar)

        self.engine_label = QLabel("Starting…")
        self.engine_label.setObjectName("engineStatus")
        self.engine_label.setTextFormat(Qt.TextFormat.PlainText)  # model file names are untrusted
        self.undo_button = QPushButton("Undo delete")
        self.undo_button.setVisible(False)
        self.undo_button.clicked.connect(self.undo_delete_requested.emit)
        self.statusBar().addPermanentWidget(self.undo_button)
        self.server_indicator = ServerIndicator()
        self.statusBar().addPermanentWidget(self.server_indicator)
        self.statusBar().addPermanentWidget(self.engine_label)

        chat_menu = self.chat_menu = self.menuBar().addMenu("&Chat")
        self.new_action = QAction("New chat", self, shortcut=QKeySequence.StandardKey.New)
        self.new_action.triggered.connect(self.conversations.new_requested.emit)
        self.conversations.new_requested.connect(self.composer.edit.setFocus)  # a new chat is for typing
        self.add_model_action = QAction("Add model file…", self, shortcut="Ctrl+O")
        self.add_model_action.triggered.connect(self.add_model_requested.emit)
        self.regenerate_action = QAction("Regenerate answer", self, shortcut="Ctrl+R")
        self.regenerate_action.triggered.connect(self.regenerate_last_requested.emit)
        self.earlier_answer_action = QAction("Earlier answer", self, shortcut=EARLIER_ANSWER_KEYS)
        self.earlier_answer_action.triggered.connect(lambda: self.other_answer_requested.emit(-1))
        self.later_answer_action = QAction("Later answer", self, shortcut=LATER_ANSWER_KEYS)
        self.later_answer_action.triggered.connect(lambda: self.other_answer_requested.emit(+1))
        self.search_action = QAction("Search chats", self, shortcut=QKeySequence.StandardKey.Find)
        self.search_action.triggered.connect(self.conversations.focus_search)
        self.conversations.search_left.connect(self.composer.edit.setFocus)
        self.chat_settings_action = QAction("This chat's settings…", self)
        self.chat_settings_action.triggered.connect(self.conversation_settings_requested.emit)
        self.settings_action = QAction("Settings…", self, shortcut=QKeySequence("Ctrl+,"))  # Cmd+, on macOS
        self.settings_action.triggered.connect(self.settings_requested.emit)
        self.export_chat_action = QAction("Export chat…", self)
        self.export_chat_action.triggered.connect(self.export_open_chat_requested.emit)
        self.export_all_action = QAction("Export all chats…", self)
        self.export_all_action.triggered.connect(self.export_all_chats_requested.emit)
        self.import_action = QAction("Import chats…", self)
        self.import_action.triggered.connect(self.import_chats_requested.emit)
        quit_action = QAction("Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        for action in (self.new_action, self.search_action, self.add_model_action, self.regenerate_action,
                       self.earlier_answer_action, self.later_answer_action, self.chat_settings_action,
                       self.settings_action):
            chat_menu.addAction(action)
        chat_menu.addSeparator()
        for action in (self.export_chat_action, self.export_all_action, self.import_action):
            chat_menu.addAction(action)
        chat_menu.addSeparator()
        chat_menu.addAction(quit_action)
        self._add_assistant_menus(chat_menu)
        self.messages.link_activated.connect(self.confirm_open_link)

    def _add_assistant_menus(self, chat_menu: QMenu) -> None:
        """"New chat with" (also the chat list's With… button), Assistants… and Knowledge…."""
        self.new_with_menu = QMenu("New chat with", self)
        self.new_with_menu.setObjectName("newChatWithMenu")
        chat_menu.insertMenu(self.search_action, self.new_with_menu)
        self.conversations.new_with_button.setMenu(self.new_with_menu)
        self.assistants_action = QAction("Assistants…", self)
        self.assistants_action.triggered.connect(self.assistants_requested.emit)
        self.knowledge_action = QAction("Knowledge…", self)
        self.knowledge_action.triggered.connect(self.knowledge_requested.emit)
        for action in (self.assistants_action, self.knowledge_action):
            chat_menu.insertAction(self.add_model_action, action)
        self.set_assistants([])

    def set_assistants(self, assistants: list[tuple[int, str]]) -> None:
        """(id, name) of each assistant, for "New chat with"."""
        self.new_with_menu.clear()
        for assistant_id, name in assistants:
            action = self.new_with_menu.addAction(name.replace("&", "&&"))
            action.setData(assistant_id)
            action.triggered.connect(lambda _=False, chosen=assistant_id: self.new_chat_with_requested.emit(chosen))
        if not assistants:
            self.new_with_menu.addAction("No assistants yet").setEnabled(False)
        self.new_with_menu.addSeparator()
        self.new_with_menu.addAction("Assistants…").triggered.connect(self.assistants_requested.emit)
        self.conversations.new_with_button.setVisible(bool(assistants))

    def add_chat_menu_action(self, action: QAction) -> None:
        """A feature's entry in the Chat menu, beside "Add model file…"."""
        self.chat_menu.insertAction(self.add_model_action, action)

    def set_engine_status(self, text: str, error: bool = False) -> None:
        self.engine_label.setText(text)
        self.engine_label.setProperty("error", error)
        self.engine_label.setToolTip(plain_tooltip(text))
        self.engine_label.style().unpolish(self.engine_label)
        self.engine_label.style().polish(self.engine_label)

    def set_models(self, entries: list[tuple[str, str]], current: str) -> None:
        """entries: (label, path); current: path."""
        self.model_picker.blockSignals(True)
        self.model_picker.clear()
        for label, path in entries:
            self.model_picker.addItem(label, path)
            if path == current:
                self.model_picker.setCurrentIndex(self.model_picker.count() - 1)
            self.model_picker.setItemData(self.model_picker.count() - 1, plain_tooltip(f"{label}\n{path}"),
                                          Qt.ItemDataRole.ToolTipRole)
        self._show_model_tooltip()
        self.model_picker.blockSignals(False)

    def _show_model_tooltip(self) -> None:
        self.model_picker.setToolTip(self.model_picker.currentData(Qt.ItemDataRole.ToolTipRole) or "")

    def show_undo(self, visible: bool, text: str = "") -> None:
        self.undo_button.setVisible(visible)
        if text:
            self.statusBar().showMessage(text, 10000)

    def confirm_open_link(self, url: QUrl) -> None:
        """Links in model output open only after the user has seen the full target."""
        from PySide6.QtGui import QDesktopServices

        target = url.toString(QUrl.ComponentFormattingOption.FullyEncoded)
        if url.scheme().lower() not in ("http", "https", "mailto"):
            QMessageBox.information(self, "Link not opened", f"Hearth does not open links of this kind:\n\n{target}")
            return
        box = QMessageBox(QMessageBox.Icon.Question, "Open link?",
                          "Open this address in your browser?", QMessageBox.StandardButton.Open
                          | QMessageBox.StandardButton.Cancel, self)
        box.setInformativeText(target)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        if box.exec() == QMessageBox.StandardButton.Open:
            QDesktopServices.openUrl(url)

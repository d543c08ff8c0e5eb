"""The left pane: conversations, newest first; new, rename (F2), delete (Delete, with undo) and a
search box (Ctrl+F) that looks through every message: Enter opens the best hit, Esc clears it.
Ctrl- and Shift-clicks pick several chats (without opening them) to export together."""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (QAbstractItemView, QApplication, QHBoxLayout, QInputDialog, QLineEdit, QListWidget,
                               QListWidgetItem, QMenu, QPushButton, QToolButton, QVBoxLayout, QWidget)

from ui.chat_list_delegate import ASSISTANT_ROLE, AssistantNameDelegate
from ui.safe_text import plain_tooltip
from ui.search_results import (HIT_RUNS_ROLE, HIT_SPEAKER_ROLE, HIT_TITLE_ROLE, SearchHitDelegate, snippet_runs,
                               speaker)

ID_ROLE = Qt.ItemDataRole.UserRole
HIT_ROLE = Qt.ItemDataRole.UserRole + 1
PICKING = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.MetaModifier


class ConversationList(QWidget):
    conversation_selected = Signal(int)
    search_hit_selected = Signal(int, int)   # conversation id, message id
    new_requested = Signal()
    rename_requested = Signal(int, str)
    delete_requested = Signal(int)
    settings_requested = Signal(int)  # the chat's own system prompt and sampling
    export_requested = Signal(list)  # the ids of the chats to write to a file
    search_changed = Signal(str)
    search_left = Signal()  # Esc in the search box: back to writing

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._open_id: int | None = None
        self.new_button = QPushButton("New chat")
        self.new_button.setObjectName("newChatButton")
        self.new_button.setToolTip("New chat (Ctrl+N)")  # the key is the menu's: two owners would cancel out
        self.new_with_button = QToolButton(text="With…")  # a new chat with an assistant (its menu is the window's)
        self.new_with_button.setObjectName("newChatWithButton")
        self.new_with_button.setToolTip("New chat with an assistant")
        self.new_with_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.new_with_button.setVisible(False)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search all chats…")
        self.search.setClearButtonEnabled(True)
        self.list = QListWidget()
        self.list.setObjectName("conversationList")
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # long titles end in "…"
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.setItemDelegate(AssistantNameDelegate(self.list))
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._menu)
        self.list.itemActivated.connect(self._activated)
        self.list.itemClicked.connect(self._activated)
        self.results = QListWidget()
        self.results.setObjectName("searchResults")
        self.results.setVisible(False)
        self.results.setWordWrap(True)
        self.results.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.results.setItemDelegate(SearchHitDelegate(self.results))
        self.results.itemClicked.connect(self._hit_activated)
        self.results.itemActivated.connect(self._hit_activated)
        top = QHBoxLayout()
        top.addWidget(self.new_button, 1)
        top.addWidget(self.new_with_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 4, 8)
        layout.addLayout(top)
        layout.addWidget(self.search)
        layout.addWidget(self.results, 1)
        layout.addWidget(self.list, 1)
        self.new_button.clicked.connect(self.new_requested.emit)
        self._open_when_found = False  # Enter was pressed: open the best of the coming hits
        self._debounce = QTimer(self, singleShot=True, interval=150)
        self._debounce.timeout.connect(lambda: self.search_changed.emit(self.search.text()))
        self.search.textChanged.connect(lambda _t: self._debounce.start())
        self.search.returnPressed.connect(self._open_best_hit)
        self._key(self.search, Qt.Key.Key_Escape, self._leave_search)
        self._key(self.search, Qt.Key.Key_Down, self._into_results)
        self._key(self.list, Qt.Key.Key_Delete, lambda: self._on_current(self.delete_requested.emit))
        self._key(self.list, Qt.Key.Key_F2, lambda: self._on_current(
            lambda cid: self.ask_rename(cid, self.list.currentItem().text())))

    @staticmethod
    def _key(widget: QWidget, key: Qt.Key, then) -> None:  # noqa: ANN001
        QShortcut(QKeySequence(key), widget, context=Qt.ShortcutContext.WidgetShortcut).activated.connect(then)

    def _on_current(self, then) -> None:  # noqa: ANN001
        item = self.list.currentItem()
        if item is not None:
            then(item.data(ID_ROLE))

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def _leave_search(self) -> None:
        self.search.clear()
        self._debounce.stop()
        self.search_changed.emit("")
        self.search_left.emit()

    def _into_results(self) -> None:
        if self.results.isVisible() and self.results.count():
            self.results.setFocus()
            self.results.setCurrentRow(0)

    def _open_best_hit(self) -> None:
        """The hits for what is typed now, not 150 ms ago: the best one opens when they arrive
        (searches run in the background)."""
        self._debounce.stop()
        self._open_when_found = bool(self.search.text().strip())
        self.search_changed.emit(self.search.text())

    def set_conversations(self, conversations, current_id: int | None, assistants: dict[int, str] | None = None) -> None:
        """The open chat is marked, except while the user walks the list with the keyboard: then
        the chat they had reached stays marked (F2 then Delete act on the same one).
        `assistants`: the assistant's name for each chat that has one, shown beside its title."""
        self._open_id = current_id
        walked = self.list.currentItem().data(ID_ROLE) if self.list.hasFocus() and self.list.currentItem() else None
        ids = {conversation.id for conversation in conversations}
        marked = walked if walked in ids else current_id
        picked = self.selected_ids()
        picked = set(picked) if len(picked) > 1 else set()  # several picked: kept through a refresh
        self.list.blockSignals(True)
        self.list.clear()
        for conversation in conversations:
            item = QListWidgetItem(conversation.title or "Untitled")
            item.setData(ID_ROLE, conversation.id)
            assistant = (assistants or {}).get(conversation.id)
            item.setData(ASSISTANT_ROLE, assistant)
            item.setToolTip(plain_tooltip(f"{conversation.title}\nAssistant: {assistant}" if assistant
                                          else conversation.title))
            self.list.addItem(item)
            if conversation.id == marked:
                self.list.setCurrentItem(item)
        for row in range(self.list.count()):
            if self.list.item(row).data(ID_ROLE) in picked:
                self.list.item(row).setSelected(True)
        self.list.blockSignals(False)

    def selected_ids(self) -> list[int]:
        """The chats picked in the list, in the list's order."""
        return [self.list.item(row).data(ID_ROLE) for row in range(self.list.count())
                if self.list.item(row).isSelected()]

    def select(self, conversation_id: int | None) -> None:
        self._open_id = conversation_id
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(ID_ROLE) == conversation_id:
                self.list.setCurrentItem(item)
                return

    def set_search_results(self, hits) -> None:
        """hits: SearchHit records; shown as plain text (snippets are untrusted)."""
        searching = bool(self.search.text().strip())
        self.results.setVisible(searching)
        self.list.setVisible(not searching)
        self.results.clear()
        for hit in hits:
            runs = snippet_runs(hit.snippet)
            line = "".join(text for text, _ in runs)
            item = QListWidgetItem(f"{hit.conversation_title}\n{speaker(hit.role)}: {line}")
            item.setData(ID_ROLE, hit.conversation_id)
            item.setData(HIT_ROLE, hit.message_id)
            item.setData(HIT_TITLE_ROLE, hit.conversation_title)
            item.setData(HIT_SPEAKER_ROLE, speaker(hit.role))
            item.setData(HIT_RUNS_ROLE, runs)
            item.setToolTip(plain_tooltip(line))
            self.results.addItem(item)
        if searching and not hits:
            item = QListWidgetItem("No messages match.")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.results.addItem(item)
        if self._open_when_found:
            self._open_when_found = False
            if searching and hits:
                self._hit_activated(self.results.item(0))

    def _activated(self, item: QListWidgetItem) -> None:
        if QApplication.keyboardModifiers() & PICKING:
            return  # picking several chats, not opening one
        self.conversation_selected.emit(item.data(ID_ROLE))

    def _hit_activated(self, item: QListWidgetItem) -> None:
        if item.data(ID_ROLE) is not None:
            self.search_hit_selected.emit(item.data(ID_ROLE), item.data(HIT_ROLE))

    def _menu(self, position) -> None:
        item = self.list.itemAt(position)
        if item is None:
            return
        several = bool(self._picked_with(item))  # a right-click on a picked chat leaves the picks as they are
        menu = self.menu_for(item)
        menu.exec(self.list.mapToGlobal(position))
        menu.deleteLater()  # one menu per right-click: not kept for the life of the list
        if not several:
            self.select(self._open_id)  # the right-click highlighted another chat; the open one stays marked

    def _picked_with(self, item: QListWidgetItem) -> list[int]:
        """The picked chats when `item` is one of several picked; [] otherwise."""
        picked = self.selected_ids()
        return picked if item.isSelected() and len(picked) > 1 else []

    def menu_for(self, item: QListWidgetItem) -> QMenu:
        """The right-click menu: for the chat under the mouse, or, when it is one of several
        picked, Export for all of them (the other entries are for one chat at a time)."""
        menu = QMenu(self)
        conversation_id, title = item.data(ID_ROLE), item.text()  # the list may be rebuilt under the menu
        picked = self._picked_with(item)
        if picked:
            menu.addAction(f"Export {len(picked)} chats…").triggered.connect(lambda: self.export_requested.emit(picked))
            return menu
        menu.addAction("Rename…").triggered.connect(lambda: self.ask_rename(conversation_id, title))
        menu.addAction("Settings…").triggered.connect(lambda: self.settings_requested.emit(conversation_id))
        menu.addAction("Export…").triggered.connect(lambda: self.export_requested.emit([conversation_id]))
        menu.addAction("Delete").triggered.connect(lambda: self.delete_requested.emit(conversation_id))
        return menu

    def ask_rename(self, conversation_id: int, current: str) -> None:
        title, ok = QInputDialog.getText(self, "Rename chat", "Title:", text=current)
        if ok and title.strip():
            self.rename_requested.emit(conversation_id, title.strip())

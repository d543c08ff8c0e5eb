"""How a chat looks in the left pane: its title, and at the right in grey the assistant it answers
as. The title gives way first (it is elided), so the assistant's name stays readable in a narrow
pane; a chat without an assistant is an ordinary row. Names are drawn as text, never markup."""
from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

ASSISTANT_ROLE = Qt.ItemDataRole.UserRole + 5
GAP = 8


class AssistantNameDelegate(QStyledItemDelegate):
    def paint(self, painter, option: QStyleOptionViewItem, index: QModelIndex) -> None:  # noqa: ANN001
        name = index.data(ASSISTANT_ROLE)
        if not name:
            super().paint(painter, option, index)
            return
        view_option = QStyleOptionViewItem(option)
        self.initStyleOption(view_option, index)
        metrics = view_option.fontMetrics
        rect = view_option.rect
        tag = metrics.elidedText(str(name), Qt.TextElideMode.ElideRight, max(40, rect.width() * 2 // 5))
        tag_width = metrics.horizontalAdvance(tag) + 2 * GAP
        view_option.text = metrics.elidedText(view_option.text, Qt.TextElideMode.ElideRight,
                                              max(0, rect.width() - tag_width - 2 * GAP))
        widget = view_option.widget
        style = widget.style() if widget is not None else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, view_option, painter, widget)
        selected = bool(view_option.state & QStyle.StateFlag.State_Selected)
        colour = view_option.palette.color(QPalette.ColorRole.HighlightedText if selected
                                           else QPalette.ColorRole.PlaceholderText)
        painter.save()
        painter.setPen(colour)
        painter.setFont(view_option.font)
        painter.drawText(rect.adjusted(0, 0, -GAP, 0), int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
                         tag)
        painter.restore()

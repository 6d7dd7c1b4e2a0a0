"""The Models tab: bundled models, the user's own, packages opened from disk, each with its card."""

from __future__ import annotations

import datetime as _dt
import html
import json

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.common.registry import KIND_LABELS, ModelEntry, human_size

GROUPS = (("bundled", "Bundled with Scribe Studio"), ("user", "Your models"), ("opened", "Opened from disk"))
HIDDEN_KEYS = {"io", "vocab", "styles", "norm", "format", "format_version", "name", "kind", "metrics", "data",
               "model_config", "exported", "exporter", "parity", "step", "recipe", "license", "description"}


def _fmt_value(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (dict, list)):
        s = json.dumps(v, ensure_ascii=False)
        return s if len(s) <= 160 else s[:157] + "…"
    return str(v)


def _table(d: dict) -> str:
    rows = "".join(f"<tr><td style='padding:2px 14px 2px 0; color:#8a8f98'>{html.escape(str(k))}</td>"
                   f"<td style='padding:2px 0'>{html.escape(_fmt_value(v))}</td></tr>" for k, v in d.items())
    return f"<table cellspacing='0'>{rows}</table>"


def card_html(entry: ModelEntry) -> str:
    """A readable card: what the model is, what it was trained on, how good it is."""
    c = entry.card
    parts = [f"<h2 style='margin-bottom:2px'>{html.escape(entry.name)}</h2>"]
    kind = KIND_LABELS.get(entry.kind, entry.kind)
    src = dict(GROUPS).get(entry.source, entry.source)
    parts.append(f"<p style='margin-top:0'><b>{html.escape(kind)}</b> · {html.escape(src)} · "
                 f"{human_size(entry.size_bytes)}</p>")
    if entry.error:
        parts.append(f"<p style='color:#d0553f'><b>Cannot be used:</b> {html.escape(entry.error)}</p>")
    if c.get("description"):
        parts.append(f"<p>{html.escape(str(c['description']))}</p>")
    facts = {}
    vocab = c.get("vocab")
    if isinstance(vocab, list):
        shown = "".join(ch for ch in vocab if ch.isprintable() and ch != " ")
        facts["characters"] = f"{len(vocab)}: {shown[:70]}{'…' if len(shown) > 70 else ''}"
    if c.get("styles"):
        facts["bundled styles"] = ", ".join(str(s.get("name", "?")) for s in c["styles"][:12])
    if (entry.path / "styles.npz").is_file():
        facts["bundled styles"] = facts.get("bundled styles", "") + " (+ styles.npz)"
    if c.get("step") is not None:
        facts["training steps"] = c["step"]
    if c.get("exported"):
        try:
            facts["exported"] = _dt.datetime.fromtimestamp(float(c["exported"])).strftime("%Y-%m-%d %H:%M")
        except (TypeError, ValueError, OSError):
            facts["exported"] = c["exported"]
    if c.get("license"):
        facts["license"] = c["license"]
    facts["folder"] = str(entry.path)
    parts.append(_table(facts))
    for key, title in (("metrics", "Metrics"), ("data", "Data"), ("recipe", "Recipe"),
                       ("model_config", "Network")):
        v = c.get(key)
        if isinstance(v, dict) and v:
            parts.append(f"<h4 style='margin-bottom:2px'>{title}</h4>" + _table(v))
        elif v:
            parts.append(f"<h4 style='margin-bottom:2px'>{title}</h4><p>{html.escape(_fmt_value(v))}</p>")
    if not c.get("metrics"):
        parts.append("<p style='color:#8a8f98'>No metrics recorded (an untrained or test model?)</p>")
    extra = {k: v for k, v in c.items() if k not in HIDDEN_KEYS}
    if isinstance(c.get("parity"), dict) and "max_diff" in c["parity"]:
        extra["ONNX parity (max diff)"] = c["parity"]["max_diff"]
    if isinstance(c.get("exporter"), dict):
        extra["exported with"] = ", ".join(f"{k} {v}" for k, v in c["exporter"].items())
    if extra:
        parts.append("<h4 style='margin-bottom:2px'>More</h4>" + _table(extra))
    return "".join(parts)


class ModelsView(QWidget):
    status = Signal(str)
    use_model = Signal(object)       # ModelEntry
    open_requested = Signal(str)     # a folder the user picked
    remove_requested = Signal(str)   # key of an opened package
    refresh_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.entries: list[ModelEntry] = []
        self._in_use: set[str] = set()
        root = QHBoxLayout(self)
        root.setContentsMargins(10, 10, 10, 6)
        split = QSplitter(Qt.Orientation.Horizontal)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        cap = QLabel("MODELS")
        cap.setObjectName("heading")
        ll.addWidget(cap)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Name", "Kind", "Size"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.currentItemChanged.connect(self._show_current)
        self.tree.itemDoubleClicked.connect(lambda *_: self.use_current())
        ll.addWidget(self.tree, 1)
        self.skipped_note = QLabel()   # the packages that cannot be used, and why (never an exception)
        self.skipped_note.setObjectName("skippedNote")
        self.skipped_note.setWordWrap(True)
        self.skipped_note.setTextFormat(Qt.TextFormat.RichText)
        self.skipped_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.skipped_note.setVisible(False)
        self._skipped: tuple[str, ...] = ()
        ll.addWidget(self.skipped_note)
        row = QHBoxLayout()
        self.open_button = QPushButton("Open package…")
        self.open_button.setToolTip("Add a model package folder from disk (Ctrl+O)")
        self.open_button.clicked.connect(self.open_dialog)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("Look for new models in the bundled and your models folders")
        self.refresh_button.clicked.connect(self.refresh_requested)
        row.addWidget(self.open_button)
        row.addWidget(self.refresh_button)
        row.addStretch(1)
        ll.addLayout(row)
        split.addWidget(left)

        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(8, 0, 0, 0)
        self.card_view = QTextBrowser()
        self.card_view.setOpenExternalLinks(False)
        self.card_view.setPlaceholderText("Select a model to see its card.")
        rl.addWidget(self.card_view, 1)
        actions = QHBoxLayout()
        self.use_button = QPushButton("Use this model")
        self.use_button.setObjectName("primary")
        self.use_button.clicked.connect(self.use_current)
        self.folder_button = QPushButton("Show folder")
        self.folder_button.clicked.connect(self.show_folder)
        self.remove_button = QPushButton("Remove from list")
        self.remove_button.setToolTip("Forget this opened package (the files stay on disk)")
        self.remove_button.clicked.connect(self._remove)
        actions.addWidget(self.use_button)
        actions.addWidget(self.folder_button)
        actions.addWidget(self.remove_button)
        actions.addStretch(1)
        rl.addLayout(actions)
        split.addWidget(right)
        split.setSizes([540, 660])
        root.addWidget(split)
        self._update_buttons()

    def set_entries(self, entries: list[ModelEntry], in_use: set[str] | None = None) -> None:
        keep = self.current().key if self.current() else None
        self.entries = list(entries)
        self._in_use = set(in_use or ())
        self.tree.clear()
        select = None
        for source, title in GROUPS:
            group = [e for e in self.entries if e.source == source]
            head = QTreeWidgetItem([title])
            head.setFlags(Qt.ItemFlag.ItemIsEnabled)
            f = head.font(0)
            f.setBold(True)
            head.setFont(0, f)
            self.tree.addTopLevelItem(head)
            head.setFirstColumnSpanned(True)
            if not group:
                hint = {"bundled": "none bundled in this build",
                        "user": "none yet: export one from the Train tab",
                        "opened": "use Open package… to add one"}[source]
                it = QTreeWidgetItem([f"   {hint}"])
                it.setFlags(Qt.ItemFlag.NoItemFlags)
                self.tree.addTopLevelItem(it)
                it.setFirstColumnSpanned(True)
            for e in group:
                mark = "✓ " if e.key in self._in_use else "    "
                it = QTreeWidgetItem([f"  {mark}{e.name}", KIND_LABELS.get(e.kind, e.kind) if e.usable else "unusable",
                                      human_size(e.size_bytes)])
                if e.key in self._in_use:
                    f = it.font(0)
                    f.setBold(True)
                    it.setFont(0, f)
                    it.setToolTip(0, f"in use — {e.path}")
                it.setData(0, Qt.ItemDataRole.UserRole, e.key)
                if e.key not in self._in_use:
                    it.setToolTip(0, str(e.path) if e.usable else e.error)
                if not e.usable:
                    it.setForeground(1, self.palette().color(self.palette().ColorRole.PlaceholderText))
                self.tree.addTopLevelItem(it)
                if e.key == keep or (select is None and keep is None):
                    select = it
        if select is not None:
            self.tree.setCurrentItem(select)
        else:
            self.card_view.clear()
        self._update_buttons()
        self._note_skipped([e for e in self.entries if not e.usable])

    def _note_skipped(self, bad: list[ModelEntry]) -> None:
        """Say which packages were skipped and why, under the list (and once in the status bar)."""
        self.skipped_note.setVisible(bool(bad))
        lines = [f"<b>{html.escape(e.path.name)}</b> ({html.escape(str(e.path.parent))}): {html.escape(e.error or '')}"
                 for e in bad]
        shown = lines[:8] + ([f"… and {len(lines) - 8} more"] if len(lines) > 8 else [])
        self.skipped_note.setText(f"<p style='color:#d0553f'>Skipped {len(bad)} model package"
                                  f"{'s' if len(bad) != 1 else ''} that cannot be used:</p>"
                                  + "<br>".join(shown))
        self.skipped_note.setToolTip("\n".join(f"{e.path}: {e.error}" for e in bad))
        keys = tuple(e.key for e in bad)
        if keys and keys != self._skipped:
            self.status.emit(f"Skipped {len(bad)} unusable model package{'s' if len(bad) != 1 else ''}: "
                             f"{', '.join(e.path.name for e in bad[:5])}{' …' if len(bad) > 5 else ''} "
                             f"(see the Models tab)")
        self._skipped = keys

    def current(self) -> ModelEntry | None:
        it = self.tree.currentItem()
        key = it.data(0, Qt.ItemDataRole.UserRole) if it is not None else None
        return next((e for e in self.entries if e.key == key), None) if key else None

    def select_key(self, key: str) -> bool:
        for i in range(self.tree.topLevelItemCount()):
            it = self.tree.topLevelItem(i)
            if it.data(0, Qt.ItemDataRole.UserRole) == key:
                self.tree.setCurrentItem(it)
                return True
        return False

    def _show_current(self, *_):
        e = self.current()
        try:
            text = card_html(e) if e else ""
        except Exception as exc:  # noqa: BLE001 - a card the schema let through but this view cannot show
            text = (f"<h2>{html.escape(e.path.name)}</h2><p style='color:#d0553f'>This card cannot be shown: "
                    f"{html.escape(f'{type(exc).__name__}: {exc}')}</p>")
        self.card_view.setHtml(text)
        self._update_buttons()

    def _update_buttons(self) -> None:
        e = self.current()
        self.use_button.setEnabled(e is not None and e.usable and e.kind in ("text", "ink-synthesis"))
        if e is not None and e.kind == "text":
            self.use_button.setText("Use for text")
        elif e is not None and e.kind == "ink-synthesis":
            self.use_button.setText("Use for handwriting")
        else:
            self.use_button.setText("Use this model")
        self.folder_button.setEnabled(e is not None)
        self.remove_button.setEnabled(e is not None and e.source == "opened")

    def use_current(self) -> None:
        e = self.current()
        if e is not None and e.usable:
            self.use_model.emit(e)

    def show_folder(self) -> None:
        e = self.current()
        if e is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(e.path)))

    def open_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a model package (folder with model.onnx and card.json)")
        if path:
            self.open_requested.emit(path)

    def _remove(self) -> None:
        e = self.current()
        if e is not None and e.source == "opened":
            self.remove_requested.emit(e.key)

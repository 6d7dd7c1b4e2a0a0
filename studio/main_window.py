"""The main window: Handwriting | Text | Train | Models, menus, shortcuts, status bar, settings."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import QAction, QActionGroup, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QMessageBox, QTabWidget, QVBoxLayout, QWidget

from studio.common.registry import ModelEntry, read_entry, scan
from studio.common.settings import open_settings, read
from studio.common.theme import THEMES, apply_theme
from studio.handwriting.view import HandwritingView
from studio.library.view import ModelsView
from studio.text.view import TextView

TAB_NAMES = ("Handwriting", "Text", "Train", "Models")


class _LazyTab(QWidget):
    """Holds a tab whose widget is built the first time it is shown (keeps start-up fast)."""

    def __init__(self, build):
        super().__init__()
        self._build = build
        self.widget: QWidget | None = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)

    def ensure(self) -> QWidget:
        if self.widget is None:
            self.widget = self._build()
            self.layout().addWidget(self.widget)
        return self.widget


def _train_view_available() -> bool:
    try:
        return importlib.util.find_spec("studio.train.view") is not None
    except (ImportError, ValueError):
        return False


class MainWindow(QMainWindow):
    def __init__(self, settings=None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Scribe Studio")
        self.settings = settings if settings is not None else open_settings()
        self.models: list[ModelEntry] = []
        self._training = False
        self._status_label = QLabel()
        self.statusBar().addPermanentWidget(self._status_label)
        self.statusBar().setSizeGripEnabled(True)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.handwriting = HandwritingView()
        self.text = TextView()
        self._train_view = None   # the TrainView once built (the tab may hold a placeholder instead)
        self._train_tab = _LazyTab(self._make_train_view)
        self.models_view = ModelsView()
        self.tabs.addTab(self.handwriting, "Handwriting")
        self.tabs.addTab(self.text, "Text")
        self.tabs.addTab(self._train_tab, "Train")
        self.tabs.addTab(self.models_view, "Models")
        self.setCentralWidget(self.tabs)
        self.tabs.currentChanged.connect(self._tab_changed)

        for view in (self.handwriting, self.text, self.models_view):
            view.status.connect(self.show_status)
        self.handwriting.busy_changed.connect(self._busy_changed)
        self.text.busy_changed.connect(self._busy_changed)
        self.handwriting.model_picker.entry_changed.connect(self._model_chosen)
        self.text.model_picker.entry_changed.connect(self._model_chosen)
        self.models_view.use_model.connect(self.use_model)
        self.models_view.open_requested.connect(self.open_package)
        self.models_view.remove_requested.connect(self.remove_opened)
        self.models_view.refresh_requested.connect(self.refresh_models)

        self._build_actions()
        self._restoring = True
        self.handwriting.load_settings(self.settings)
        self.text.load_settings(self.settings)
        self.refresh_models()
        self._restoring = False
        self._restore_window()
        self.show_status("Ready. Draw a line of your handwriting, or type text and press Write.")

    # ------------------------------------------------------------------------------------ train tab
    def _make_train_view(self) -> QWidget:
        if _train_view_available():
            try:
                from studio.train.view import TrainView

                view = TrainView(self)
            except Exception as exc:  # noqa: BLE001 - the rest of the app must keep working
                import traceback

                traceback.print_exc()
                return self._placeholder(f"The Train view could not start: {exc}")
            view.model_exported.connect(self.model_exported)
            view.training_state.connect(self._training_state)
            view.status.connect(self.show_status)
            self._train_view = view
            return view
        return self._placeholder("Training from the app is not available in this build.")

    @staticmethod
    def _placeholder(text: str) -> QWidget:
        lab = QLabel(text)
        lab.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lab.setObjectName("muted")
        lab.setWordWrap(True)
        return lab

    @property
    def handwriting_view(self) -> HandwritingView:
        return self.handwriting

    @property
    def train_view(self) -> QWidget:
        """The Train tab's widget (built on first use)."""
        return self._train_tab.ensure()

    def _tab_changed(self, index: int) -> None:
        if self.tabs.widget(index) is self._train_tab:
            self._train_tab.ensure()
        self._update_actions()

    # ------------------------------------------------------------------------------------ actions
    def _build_actions(self) -> None:
        mb = self.menuBar()
        file_menu = mb.addMenu("&File")
        self._action("Open model package…", QKeySequence.StandardKey.Open, self.models_view.open_dialog, file_menu)
        self._action("Save…", QKeySequence.StandardKey.Save, self.save_current, file_menu)
        self._action("Copy result", QKeySequence("Ctrl+Shift+C"), self.copy_current, file_menu)
        file_menu.addSeparator()
        self._action("Quit", QKeySequence.StandardKey.Quit, self.close, file_menu)

        gen_menu = mb.addMenu("&Generate")
        self.act_generate = self._action("Write / Generate", QKeySequence("Ctrl+Return"), self.generate_current,
                                         gen_menu)
        self.act_generate.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
        self._action("Stop", QKeySequence("Esc"), self.stop_current, gen_menu)
        gen_menu.addSeparator()
        self.act_undo = self._action("Undo stroke", QKeySequence.StandardKey.Undo, self.handwriting.undo, gen_menu)
        self.act_clear = self._action("Clear drawing", QKeySequence("Ctrl+Shift+Backspace"),
                                      self.handwriting.clear, gen_menu)
        self._action("Use drawing as style", QKeySequence("Ctrl+Shift+U"), self.handwriting.use_as_style, gen_menu)
        self._action("Collect my handwriting…", QKeySequence("Ctrl+Shift+H"), self.handwriting.open_collection,
                     gen_menu)

        view_menu = mb.addMenu("&View")
        for i, name in enumerate(TAB_NAMES):
            self._action(name, QKeySequence(f"Ctrl+{i + 1}"), lambda _=False, i=i: self.tabs.setCurrentIndex(i),
                         view_menu)
        view_menu.addSeparator()
        theme_menu = view_menu.addMenu("Theme")
        self._theme_group = QActionGroup(self)
        for t in THEMES:
            a = QAction(t.capitalize(), self, checkable=True)
            a.setData(t)
            a.triggered.connect(self._theme_picked)
            self._theme_group.addAction(a)
            theme_menu.addAction(a)
        current = read(self.settings, "ui/theme", "system")
        for a in self._theme_group.actions():
            a.setChecked(a.data() == current)

        help_menu = mb.addMenu("&Help")
        self._action("About Scribe Studio", None, self.about, help_menu)

    def _action(self, text, shortcut, slot, menu) -> QAction:
        a = QAction(text, self)
        if shortcut is not None:
            a.setShortcut(shortcut)
            a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        a.triggered.connect(slot)
        menu.addAction(a)
        self.addAction(a)
        return a

    def current_view(self):
        w = self.tabs.currentWidget()
        return w.widget if isinstance(w, _LazyTab) else w

    def generate_current(self, *_):
        v = self.current_view()
        if hasattr(v, "generate"):
            v.generate()

    def stop_current(self, *_):
        stopped = False
        for v in (self.handwriting, self.text):
            if v.is_busy():
                v.stop()
                stopped = True
        if not stopped:
            v = self.current_view()
            if v not in (self.handwriting, self.text) and hasattr(v, "stop"):
                v.stop()

    def save_current(self, *_):
        v = self.current_view()
        if v is self.handwriting:
            v.save_dialog(".svg")
        elif v is self.text:
            v.save_dialog()

    def copy_current(self, *_):
        v = self.current_view()
        if v in (self.handwriting, self.text):
            v.copy()

    def _update_actions(self) -> None:
        v = self.current_view()
        self.act_undo.setEnabled(v is self.handwriting)
        self.act_clear.setEnabled(v is self.handwriting)

    def _busy_changed(self, _busy: bool = False) -> None:
        parts = []
        if self.handwriting.is_busy() or self.text.is_busy():
            parts.append("● writing")
        if self._training:
            parts.append("● training")
        self._status_label.setText("   ".join(parts))

    def _training_state(self, running: bool) -> None:
        self._training = bool(running)
        self._busy_changed()

    def show_status(self, msg: str) -> None:
        self.statusBar().showMessage(msg)

    def about(self) -> None:
        from engine import __version__

        QMessageBox.about(self, "About Scribe Studio",
                          f"<b>Scribe Studio {__version__}</b><p>Draw handwriting, generate handwriting and "
                          "text, and train recurrent networks (char-rnn; Graves' handwriting synthesis "
                          "LSTM with a mixture density network and a soft attention window).</p>")

    # ------------------------------------------------------------------------------------ theme
    def _theme_picked(self) -> None:
        a = self.sender()
        if isinstance(a, QAction):
            self.set_theme(a.data())

    def set_theme(self, theme: str) -> None:
        app = QApplication.instance()
        apply_theme(app, theme)
        self.settings.setValue("ui/theme", theme)
        for a in self._theme_group.actions():
            a.setChecked(a.data() == theme)
        if self._train_view is not None:
            self._train_view.apply_palette()
        self.update()

    # ------------------------------------------------------------------------------------ models
    def _extra_paths(self) -> list[str]:
        return read(self.settings, "models/opened", [], list)

    def refresh_models(self) -> None:
        self.models = scan(self._extra_paths())
        hw_key = read(self.settings, "models/handwriting", "") or None
        tx_key = read(self.settings, "models/text", "") or None
        self._restoring, was = True, self._restoring
        self.handwriting.model_picker.set_entries(self.models, hw_key)
        self.text.model_picker.set_entries(self.models, tx_key)
        self._restoring = was
        self._refresh_models_view()
        n = sum(1 for e in self.models if e.usable)
        self._status_label.setToolTip(f"{n} model(s) available")

    def _refresh_models_view(self) -> None:
        in_use = {e.key for e in (self.handwriting.model_picker.current(), self.text.model_picker.current()) if e}
        self.models_view.set_entries(self.models, in_use)

    def _model_chosen(self, entry: ModelEntry | None) -> None:
        if entry is None:
            return
        if not self._restoring:
            key = "models/text" if entry.kind == "text" else "models/handwriting"
            self.settings.setValue(key, entry.key)
        if not self._restoring:
            self._refresh_models_view()

    def use_model(self, entry: ModelEntry) -> None:
        picker = self.text.model_picker if entry.kind == "text" else self.handwriting.model_picker
        if picker.select_key(entry.key):
            key = "models/text" if entry.kind == "text" else "models/handwriting"
            self.settings.setValue(key, entry.key)
            self._refresh_models_view()
            self.tabs.setCurrentWidget(self.text if entry.kind == "text" else self.handwriting)
            self.show_status(f"Using {entry.name}.")

    def open_package(self, path: str) -> ModelEntry | None:
        """Add a package folder from disk; it is remembered across restarts."""
        entry = read_entry(Path(path), "opened")
        if entry.error:
            self.show_status(f"Cannot open {path}: {entry.error}")
            return None
        known = next((e for e in self.models if e.key == entry.key), None)
        if known is None:
            paths = self._extra_paths()
            paths.append(entry.key)
            self.settings.setValue("models/opened", paths)
            self.refresh_models()
        self.models_view.select_key(entry.key)
        self.show_status(f"Added {entry.name} ({entry.kind}).")
        return next((e for e in self.models if e.key == entry.key), entry)

    def remove_opened(self, key: str) -> None:
        paths = [p for p in self._extra_paths() if p != key]
        self.settings.setValue("models/opened", paths)
        self.refresh_models()

    def model_exported(self, path: str) -> None:
        """The Train tab exported a package: list it (and remember it if it is outside the models folder)."""
        from engine.core.paths import user_models_dir

        p = Path(path).resolve()
        try:
            inside = p.parent == user_models_dir().resolve()
        except OSError:
            inside = False
        if not inside and str(p) not in self._extra_paths():
            self.settings.setValue("models/opened", self._extra_paths() + [str(p)])
        self.refresh_models()
        self.show_status(f"New model {p.name} is ready in the Models tab.")

    # ------------------------------------------------------------------------------------ window state
    def _restore_window(self) -> None:
        geo = self.settings.value("ui/geometry")
        if isinstance(geo, QByteArray) and not geo.isEmpty():
            self.restoreGeometry(geo)
        else:
            screen = QGuiApplication.primaryScreen()
            avail = screen.availableGeometry() if screen else None
            w, h = 1240, 780
            if avail is not None:
                w, h = min(w, int(avail.width() * 0.92)), min(h, int(avail.height() * 0.9))
            self.resize(w, h)
        self.setMinimumSize(900, 600)
        tab = read(self.settings, "ui/tab", 0)
        if 0 <= tab < self.tabs.count():
            self.tabs.setCurrentIndex(tab)
        self._update_actions()

    def save_settings(self) -> None:
        s = self.settings
        s.setValue("ui/geometry", self.saveGeometry())
        s.setValue("ui/tab", self.tabs.currentIndex())
        self.handwriting.save_settings(s)
        self.text.save_settings(s)
        s.sync()

    def closeEvent(self, event) -> None:  # noqa: N802
        if self._train_view is not None:
            try:
                self._train_view.shutdown()
            except Exception:  # noqa: BLE001 - closing must not fail
                import traceback

                traceback.print_exc()
        self.handwriting.shutdown()
        self.text.shutdown()
        from studio.common.jobs import join_workers

        join_workers(10.0)  # no worker may still be inside onnxruntime when the process exits
        self.save_settings()
        super().closeEvent(event)

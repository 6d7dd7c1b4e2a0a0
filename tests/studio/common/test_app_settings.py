"""Settings persist across a restart; models list, opened packages, the models view (pytest-qt, offscreen)."""

from __future__ import annotations

import json
import shutil

from app_support import select_model
from PySide6.QtGui import QColor


def _restart(qtbot, old):
    from studio.main_window import MainWindow

    old.close()  # saves settings
    win = MainWindow()
    qtbot.addWidget(win)
    return win


def test_settings_persist_across_a_restart(window, qtbot, studio_home):
    w = window
    select_model(w, "text", studio_home)
    select_model(w, "ink-synthesis", studio_home)
    hv, tv = w.handwriting, w.text
    hv.text_edit.setPlainText("keep me\nplease")
    hv.bias_slider.setValue(140)
    hv.speed_slider.setValue(3)
    hv.width_slider.setValue(11)
    hv._set_colour(QColor("#6b4423"))
    hv.cpl_spin.setValue(33)
    hv.slant_combo.setCurrentIndex(hv.slant_combo.findData("off"))
    hv.takes_spin.setValue(5)
    tv.prompt_edit.setPlainText("Once upon")
    tv.temp_spin.setValue(1.25)
    tv.length_spin.setValue(777)
    tv.topk_spin.setValue(7)
    tv.seed_spin.setValue(99)
    w.tabs.setCurrentIndex(1)
    w.set_theme("dark")
    text_key, ink_key = tv.entry.key, hv.entry.key

    w2 = _restart(qtbot, w)
    assert (studio_home / "settings.ini").exists()
    h2, t2 = w2.handwriting, w2.text
    assert h2.text_edit.toPlainText() == "keep me\nplease"
    assert (h2.bias_slider.value(), h2.speed_slider.value(), h2.width_slider.value()) == (140, 3, 11)
    assert h2.color == QColor("#6b4423") and h2.cpl_spin.value() == 33
    assert h2.slant_combo.currentData() == "off" and h2.takes_spin.value() == 5
    assert t2.prompt_edit.toPlainText() == "Once upon"
    assert (t2.temp_spin.value(), t2.length_spin.value(), t2.topk_spin.value(), t2.seed_spin.value()) == \
        (1.25, 777, 7, 99)
    assert t2.entry.key == text_key and h2.entry.key == ink_key
    assert w2.tabs.currentIndex() == 1
    assert w2.settings.value("ui/theme") == "dark"
    w2.set_theme("light")
    w2.close()


def test_model_choice_persists_even_with_several_models(window, qtbot, studio_home, tiny_packages):
    # a second text model appears; choosing it is remembered
    shutil.copytree(tiny_packages["text"], studio_home / "models" / "tiny-text-2")
    card = json.loads((studio_home / "models" / "tiny-text-2" / "card.json").read_text())
    card["name"] = "second text model"
    (studio_home / "models" / "tiny-text-2" / "card.json").write_text(json.dumps(card))
    window.refresh_models()
    key2 = str((studio_home / "models" / "tiny-text-2").resolve())
    entry = next(e for e in window.models if e.key == key2)
    window.use_model(entry)
    assert window.text.entry.key == key2 and window.tabs.currentWidget() is window.text
    w2 = _restart(qtbot, window)
    assert w2.text.entry.key == key2 and w2.text.entry.name == "second text model"
    w2.close()


def test_open_package_from_disk_is_remembered_and_removable(window, qtbot, studio_home, tiny_packages, tmp_path):
    outside = tmp_path / "elsewhere" / "my-ink"
    shutil.copytree(tiny_packages["ink-synthesis"], outside)
    entry = window.open_package(str(outside))
    assert entry is not None and entry.source == "opened"
    assert window.models_view.current().key == entry.key
    assert "Handwriting synthesis" in window.models_view.card_view.toPlainText()
    # not a package: a message, nothing added
    bad = tmp_path / "not-a-model"
    bad.mkdir()
    n = len(window.models)
    assert window.open_package(str(bad)) is None
    assert len(window.models) == n and "card.json" in window.statusBar().currentMessage()

    w2 = _restart(qtbot, window)
    opened = [e for e in w2.models if e.source == "opened"]
    assert [e.key for e in opened] == [entry.key]
    w2.models_view.select_key(entry.key)
    w2.remove_opened(entry.key)
    assert not [e for e in w2.models if e.source == "opened"]
    w2.close()


def test_models_view_lists_both_kinds_with_cards(window, studio_home):
    mv = window.models_view
    kinds = sorted(e.kind for e in mv.entries if e.source == "user")
    assert kinds == ["ink-synthesis", "text"]
    ink = next(e for e in mv.entries if e.kind == "ink-synthesis" and e.source == "user")
    assert mv.select_key(ink.key)
    html = mv.card_view.toPlainText()
    assert "Handwriting synthesis" in html and "sample" in html  # kind and bundled style names
    assert "KB" in html  # size
    assert mv.use_button.text() == "Use for handwriting"


def test_exported_model_from_train_tab_is_listed(window, studio_home, tiny_packages):
    dest = studio_home / "models" / "fresh-export"
    shutil.copytree(tiny_packages["text"], dest)
    window.model_exported(str(dest))
    assert any(e.key == str(dest.resolve()) for e in window.models)
    assert any(window.text.model_picker.itemData(i) == str(dest.resolve())
               for i in range(window.text.model_picker.count()))


def test_damaged_card_is_listed_as_unusable(window, studio_home):
    bad = studio_home / "models" / "broken"
    bad.mkdir()
    (bad / "card.json").write_text("{oops")
    window.refresh_models()
    e = next(e for e in window.models if e.path.name == "broken")
    assert not e.usable and "card.json" in e.error
    assert all(window.text.model_picker.itemData(i) != e.key for i in range(window.text.model_picker.count()))

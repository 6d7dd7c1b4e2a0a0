"""Saving generated handwriting: SVG (engine.data.svg), PNG (Qt), InkML (engine.data.inkml), clipboard."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QMimeData
from PySide6.QtGui import QColor, QGuiApplication

from engine.core.errors import ScribeError
from studio.handwriting.page import InkPage
from studio.handwriting.page_view import pen_width_units, render_page_image

FORMATS = {
    ".svg": "SVG image (*.svg)",
    ".png": "PNG image (*.png)",
    ".inkml": "InkML ink (*.inkml)",
}


def page_svg(page: InkPage, color: QColor, width_setting: float) -> str:
    from engine.data.svg import ink_to_svg

    ink = page.to_ink()
    return ink_to_svg(ink, stroke_width=pen_width_units(width_setting, page.x_height), color=color.name())


def save_page(page: InkPage, path: Path | str, color: QColor, width_setting: float) -> Path:
    """Save by the file's suffix (.svg, .png, .inkml); ScribeError with a clear message on failure."""
    path = Path(path)
    suffix = path.suffix.lower()
    if page is None or page.is_empty():
        raise ScribeError("nothing to save yet: write something first")
    if suffix not in FORMATS:
        raise ScribeError(f"cannot save as {suffix or 'a file without an extension'}: use .svg, .png or .inkml")
    try:
        if suffix == ".svg":
            path.write_text(page_svg(page, color, width_setting), encoding="utf-8")
        elif suffix == ".png":
            img = render_page_image(page, color, width_setting)
            if not img.save(str(path), "PNG"):
                raise ScribeError(f"could not write {path}")
        else:
            from engine.data.inkml import write_inkml

            write_inkml(path, page.line_inks())
    except OSError as exc:
        raise ScribeError(f"could not write {path}: {exc.strerror or exc}") from None
    return path


def copy_page(page: InkPage, color: QColor, width_setting: float) -> None:
    """Put the page on the clipboard as an image, as SVG (for vector editors) and as its text."""
    if page is None or page.is_empty():
        raise ScribeError("nothing to copy yet: write something first")
    mime = QMimeData()
    mime.setImageData(render_page_image(page, color, width_setting))
    mime.setData("image/svg+xml", QByteArray(page_svg(page, color, width_setting).encode("utf-8")))
    mime.setText(page.text())
    QGuiApplication.clipboard().setMimeData(mime)

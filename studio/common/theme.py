"""Light and dark palettes (Fusion style), the paper colours, and a small style sheet.

The page and the drawing strip stay paper-coloured in both themes (like a document in a creative
tool), so what people see is what they export.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

PAPER = QColor("#fdfcf8")
PAPER_EDGE = QColor("#d9d5cb")
GUIDE = QColor("#e7e2d6")
GUIDE_STRONG = QColor("#c8c0ae")
PAPER_TEXT_HINT = QColor("#a39d90")
DEFAULT_INK = QColor("#1d2b4f")
WARN = QColor("#c0392b")

THEMES = ("system", "light", "dark")

_LIGHT = {
    QPalette.ColorRole.Window: "#f3f2ef",
    QPalette.ColorRole.WindowText: "#1f2328",
    QPalette.ColorRole.Base: "#ffffff",
    QPalette.ColorRole.AlternateBase: "#f6f5f2",
    QPalette.ColorRole.ToolTipBase: "#fffef6",
    QPalette.ColorRole.ToolTipText: "#1f2328",
    QPalette.ColorRole.PlaceholderText: "#8a8f98",
    QPalette.ColorRole.Text: "#1f2328",
    QPalette.ColorRole.Button: "#fafaf8",
    QPalette.ColorRole.ButtonText: "#1f2328",
    QPalette.ColorRole.BrightText: "#ffffff",
    QPalette.ColorRole.Highlight: "#3b6fd8",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.Link: "#2f5fc4",
    QPalette.ColorRole.Mid: "#c9c6bf",
    QPalette.ColorRole.Midlight: "#e4e2dd",
    QPalette.ColorRole.Dark: "#a9a59c",
    QPalette.ColorRole.Light: "#ffffff",
    QPalette.ColorRole.Shadow: "#77736b",
}

_DARK = {
    QPalette.ColorRole.Window: "#232428",
    QPalette.ColorRole.WindowText: "#e6e6e3",
    QPalette.ColorRole.Base: "#1a1b1e",
    QPalette.ColorRole.AlternateBase: "#26272b",
    QPalette.ColorRole.ToolTipBase: "#2e3036",
    QPalette.ColorRole.ToolTipText: "#e6e6e3",
    QPalette.ColorRole.PlaceholderText: "#80838a",
    QPalette.ColorRole.Text: "#e6e6e3",
    QPalette.ColorRole.Button: "#2c2e33",
    QPalette.ColorRole.ButtonText: "#e6e6e3",
    QPalette.ColorRole.BrightText: "#ffffff",
    QPalette.ColorRole.Highlight: "#5b8def",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.Link: "#7fa6f5",
    QPalette.ColorRole.Mid: "#3b3d43",
    QPalette.ColorRole.Midlight: "#34363c",
    QPalette.ColorRole.Dark: "#141518",
    QPalette.ColorRole.Light: "#45474e",
    QPalette.ColorRole.Shadow: "#0b0b0d",
}


def system_prefers_dark(app: QApplication) -> bool:
    try:
        from PySide6.QtCore import Qt

        return app.styleHints().colorScheme() == Qt.ColorScheme.Dark
    except Exception:  # noqa: BLE001 - older Qt or no platform theme
        return False


def make_palette(dark: bool) -> QPalette:
    pal = QPalette()
    for role, hexcol in (_DARK if dark else _LIGHT).items():
        pal.setColor(role, QColor(hexcol))
    disabled = QColor("#6b6e75") if dark else QColor("#a3a6ad")
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return pal


def style_sheet(dark: bool) -> str:
    accent = "#5b8def" if dark else "#3b6fd8"
    accent_hover = "#6d9af2" if dark else "#325fbd"
    muted = "#9a9da4" if dark else "#6a6f78"
    border = "#3b3d43" if dark else "#d6d3cc"
    text = "#e6e6e3" if dark else "#1f2328"
    return f"""
    QPushButton#primary {{ background: {accent}; color: white; border: 1px solid {accent};
        border-radius: 5px; padding: 6px 16px; font-weight: 600; }}
    QPushButton#primary:hover {{ background: {accent_hover}; }}
    QPushButton#primary:disabled {{ background: {border}; border-color: {border}; color: {muted}; }}
    QLabel#muted {{ color: {muted}; }}
    QLabel#warning {{ color: #d0553f; }}
    QLabel#heading {{ font-weight: 700; font-size: 8pt; color: {muted}; }}
    QGroupBox {{ font-weight: 600; border: 1px solid {border}; border-radius: 6px; margin-top: 10px;
        padding-top: 6px; }}
    QGroupBox::title {{ subcontrol-origin: margin; left: 9px; padding: 0 3px; }}
    QTabWidget::pane {{ border: none; border-top: 1px solid {border}; }}
    QTabBar::tab {{ padding: 7px 18px 6px 18px; margin: 0 2px 0 0; border: none;
        border-bottom: 2px solid transparent; color: {muted}; background: transparent; }}
    QTabBar::tab:selected {{ color: {text}; border-bottom: 2px solid {accent}; font-weight: 600; }}
    QTabBar::tab:hover:!selected {{ color: {text}; }}
    QToolButton {{ padding: 3px 8px; }}
    QToolButton#menuButton::menu-indicator {{ image: none; width: 0px; }}
    QToolButton#menuButton {{ text-align: left; }}
    QStatusBar {{ color: {muted}; }}
    """


def apply_theme(app: QApplication, theme: str = "system") -> bool:
    """Apply Fusion with our light or dark palette; returns True when dark."""
    app.setStyle("Fusion")
    dark = system_prefers_dark(app) if theme == "system" else theme == "dark"
    app.setPalette(make_palette(dark))
    app.setStyleSheet(style_sheet(dark))
    return dark

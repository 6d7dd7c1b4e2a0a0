"""Turning what the user drew into a priming sequence in the model's units (numpy only).

The canvas guide has a known x-height; the model's x-height comes from its card (``x_height``) or is
estimated from its bundled styles. Strokes are scaled by the ratio and resampled along their length to
the model's typical point spacing, so a mouse drawing (few, far-apart points) and a pen drawing (many,
close points) both look like the data the model was trained on.
"""

from __future__ import annotations

import numpy as np

DEFAULT_X_HEIGHT = 25.0


def stroke3_to_points(stroke3: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Absolute points (n, 2) and pen_up flags (n,) from stroke-3."""
    a = np.asarray(stroke3, dtype=np.float64).reshape(-1, 3)
    return np.cumsum(a[:, :2], axis=0), a[:, 2] >= 0.5


def estimate_x_height(card: dict | None, styles: list[dict] | None) -> float:
    """The model's x-height in its raw units (card value, else from styles, else a default)."""
    card = card or {}
    sources = [card] + [card[k] for k in ("ink", "data", "norm") if isinstance(card.get(k), dict)]
    for src in sources:
        for key in ("x_height", "xheight"):
            try:
                v = float(src.get(key) or 0)
            except (TypeError, ValueError):
                continue
            if v > 0:
                return v
    band = style_band(styles)
    return band / BAND_PER_X_HEIGHT if band else DEFAULT_X_HEIGHT


BAND_PER_X_HEIGHT = 0.9  # 20th-80th percentile of y over a cursive line ~ 0.9 x-heights (measured on synth)


def y_band(ys) -> float | None:
    """Height of the central 60% of a line's y values: a size measure that ignores ascenders/descenders."""
    y = np.asarray(ys, dtype=np.float64).reshape(-1)
    if len(y) < 20:
        return None
    band = float(np.percentile(y, 80) - np.percentile(y, 20))
    return band if band > 0 else None


def style_band(styles: list[dict] | None) -> float | None:
    """Median y-band of the bundled styles (model units), None without usable styles."""
    bands = []
    for st in styles or []:
        try:
            pts, _ = stroke3_to_points(st["stroke3"])
        except (KeyError, ValueError):
            continue
        b = y_band(pts[:, 1])
        if b:
            bands.append(b)
    return float(np.median(bands)) if bands else None


def drawing_scale(ys, guide_x_height: float, model_x_height: float, styles: list[dict] | None = None) -> float:
    """Canvas units -> model units for a drawing.

    From the guide (the user wrote to a known x-height) unless the model has styles: then the drawing's
    y-band is matched to theirs (robust to people ignoring the guide), kept within 2x of the guide's scale.
    """
    guide = model_x_height / guide_x_height
    target, have = style_band(styles), y_band(ys)
    if target and have:
        return float(np.clip(target / have, guide / 2, guide * 2))
    return guide


def typical_spacing(styles: list[dict] | None) -> float | None:
    """Median distance between consecutive pen-down points in the bundled styles (model units)."""
    steps = []
    for st in styles or []:
        try:
            a = np.asarray(st["stroke3"], dtype=np.float64).reshape(-1, 3)
        except (KeyError, ValueError):
            continue
        if len(a) < 3:
            continue
        prev_up = np.concatenate([[True], a[:-1, 2] >= 0.5])  # rows that start a stroke are jumps
        d = np.hypot(a[:, 0], a[:, 1])[~prev_up]
        steps.extend(d[d > 0].tolist())
    return float(np.median(steps)) if steps else None


def resample(xs: np.ndarray, ys: np.ndarray, spacing: float) -> tuple[np.ndarray, np.ndarray]:
    """Points every ``spacing`` along the polyline (keeps both ends)."""
    xs = np.asarray(xs, dtype=np.float64)
    ys = np.asarray(ys, dtype=np.float64)
    if len(xs) < 2 or spacing <= 0:
        return xs, ys
    seg = np.hypot(np.diff(xs), np.diff(ys))
    s = np.concatenate([[0.0], np.cumsum(seg)])
    total = s[-1]
    if total <= spacing:
        return np.array([xs[0], xs[-1]]), np.array([ys[0], ys[-1]])
    n = int(np.ceil(total / spacing)) + 1
    t = np.linspace(0.0, total, n)
    return np.interp(t, s, xs), np.interp(t, s, ys)


def strokes_to_stroke3(strokes: list[tuple[np.ndarray, np.ndarray]], scale: float = 1.0,
                       spacing: float | None = None) -> np.ndarray:
    """Strokes of absolute (xs, ys) to stroke-3 (dx, dy, pen_up), scaled, optionally resampled.

    The first point becomes the origin, so the first row is (0, 0, ...).
    """
    rows: list[np.ndarray] = []
    origin = None
    prev = None
    for xs, ys in strokes:
        x = np.asarray(xs, dtype=np.float64) * scale
        y = np.asarray(ys, dtype=np.float64) * scale
        if len(x) == 0:
            continue
        if spacing:
            x, y = resample(x, y, spacing)
        if origin is None:
            origin = (x[0], y[0])
        x = x - origin[0]
        y = y - origin[1]
        pts = np.stack([x, y], axis=1)
        start = np.zeros(2) if prev is None else prev
        d = np.diff(np.vstack([start, pts]), axis=0)
        pen = np.zeros((len(pts), 1))
        pen[-1, 0] = 1.0
        rows.append(np.hstack([d, pen]))
        prev = pts[-1]
    if not rows:
        return np.zeros((0, 3), dtype=np.float32)
    return np.vstack(rows).astype(np.float32)

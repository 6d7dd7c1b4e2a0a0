"""SVG rendering of ink: one smooth path per stroke (Catmull-Rom through the points as cubic Beziers).

y points down in ink and in SVG, so no flip is needed. The viewBox fits the ink plus a margin. With
``variable_width=True`` each stroke becomes a filled outline that is wider where the pen moved slowly
(like a nib), still one path per stroke. Text only: no torch, no Qt.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

import numpy as np

from engine.data.ink import Ink


def _as_ink(obj) -> Ink:
    if isinstance(obj, Ink):
        return obj
    return Ink.from_stroke3(np.asarray(obj, dtype=np.float64).reshape(-1, 3))


def _f(v) -> str:
    s = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def _pairs(a: np.ndarray) -> list[str]:
    return [f"{_f(x)} {_f(y)}" for x, y in a]


def _dedupe(xy: np.ndarray) -> np.ndarray:
    if len(xy) < 2:
        return xy
    keep = np.concatenate([[True], np.any(np.abs(np.diff(xy, axis=0)) > 1e-9, axis=1)])
    return xy[keep]


def _bezier_controls(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Control points of the cubic Beziers of a uniform Catmull-Rom spline through xy (n >= 2)."""
    ext = np.vstack([xy[:1], xy, xy[-1:]])
    c1 = xy[:-1] + (ext[2:-1] - ext[:-3]) / 6.0
    c2 = xy[1:] - (ext[3:] - ext[1:-2]) / 6.0
    return c1, c2


def smooth_path_d(xy: np.ndarray, move: bool = True) -> str:
    """SVG path data through the points of one stroke (a smooth curve; a dot for a single point)."""
    xy = _dedupe(np.asarray(xy, dtype=np.float64).reshape(-1, 2))
    if len(xy) == 0:
        return ""
    head = f"M{_f(xy[0, 0])} {_f(xy[0, 1])}" if move else ""
    if len(xy) == 1:
        return head + "l0.01 0"
    if len(xy) == 2:
        return head + f"L{_f(xy[1, 0])} {_f(xy[1, 1])}"
    c1, c2 = _bezier_controls(xy)
    segs = [f"C{a} {b} {c}" for a, b, c in zip(_pairs(c1), _pairs(c2), _pairs(xy[1:]))]
    return head + "".join(segs)


def _outline_d(s, width: float) -> str:
    """A filled outline of a stroke, wider where the pen is slow (time channel or point spacing)."""
    xy = np.stack([s.x, s.y], axis=1)
    keep = np.concatenate([[True], np.any(np.abs(np.diff(xy, axis=0)) > 1e-9, axis=1)]) if len(xy) > 1 else [True]
    xy = xy[keep]
    t = s.t[keep] if s.t is not None else None
    if len(xy) < 3:
        return ""
    seg = np.hypot(*np.diff(xy, axis=0).T)
    if t is not None and np.all(np.diff(t) > 0):
        speed = seg / np.diff(t)
    else:
        speed = seg
    speed = np.concatenate([[speed[0]], 0.5 * (speed[:-1] + speed[1:]), [speed[-1]]])
    ref = np.median(speed) if np.median(speed) > 0 else 1.0
    w = width * np.clip(1.35 - 0.45 * speed / ref, 0.55, 1.3)
    w = np.convolve(np.pad(w, 2, mode="edge"), np.ones(5) / 5, mode="valid")
    tangent = np.gradient(xy, axis=0)
    tangent /= np.maximum(np.hypot(*tangent.T), 1e-9)[:, None]
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    left = xy + normal * (w / 2)[:, None]
    right = (xy - normal * (w / 2)[:, None])[::-1]
    r_end, r_start = _f(w[-1] / 2), _f(w[0] / 2)
    return (smooth_path_d(left) + f"A{r_end} {r_end} 0 0 1 {_f(right[0, 0])} {_f(right[0, 1])}"
            + smooth_path_d(right, move=False)
            + f"A{r_start} {r_start} 0 0 1 {_f(left[0, 0])} {_f(left[0, 1])}Z")


def _paths(ink: Ink, dx: float, dy: float, stroke_width: float, color: str, variable_width: bool) -> list[str]:
    out = []
    for s in ink.strokes:
        if not len(s):
            continue
        moved = type(s)(s.x + dx, s.y + dy, s.t, s.p)
        if variable_width and len(s) >= 3:
            d = _outline_d(moved, stroke_width)
            if d:
                out.append(f'<path d="{d}" fill={quoteattr(color)} stroke="none"/>')
                continue
        out.append(f'<path d="{smooth_path_d(moved.xy())}"/>')
    return out


def inks_to_svg(inks, *, stroke_width: float = 2.0, color: str = "#1b1b1b", background: str | None = None,
                padding: float | None = None, line_gap: float | None = None, scale: float = 1.0,
                variable_width: bool = False, title: str | None = None) -> str:
    """Several inks (or stroke-3 arrays) stacked top to bottom in one SVG document."""
    inks = [_as_ink(i) for i in inks]
    pad = padding if padding is not None else 2.0 * stroke_width + 2.0
    boxes = [i.bounds() for i in inks]
    heights = [b[3] - b[1] for b in boxes]
    gap = line_gap if line_gap is not None else 0.25 * (float(np.median(heights)) if heights else 0.0) + pad
    body: list[str] = []
    y = pad
    width = 0.0
    for ink, (x0, y0, x1, y1) in zip(inks, boxes):
        body.extend(_paths(ink, pad - x0, y - y0, stroke_width, color, variable_width))
        width = max(width, x1 - x0)
        y += (y1 - y0) + gap
    vw = width + 2 * pad
    vh = max(y - gap + pad, 2 * pad)
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_f(vw)} {_f(vh)}" '
            f'width="{_f(vw * scale)}" height="{_f(vh * scale)}">')
    parts = [head]
    if title:
        parts.append(f"<title>{escape(title)}</title>")
    if background:
        parts.append(f'<rect x="0" y="0" width="{_f(vw)}" height="{_f(vh)}" fill={quoteattr(background)}/>')
    parts.append(f'<g fill="none" stroke={quoteattr(color)} stroke-width="{_f(stroke_width)}" '
                 f'stroke-linecap="round" stroke-linejoin="round">')
    parts.extend(body)
    parts.append("</g></svg>")
    return "\n".join(parts) + "\n"


def ink_to_svg(ink_or_stroke3, *, stroke_width: float = 2.0, color: str = "#1b1b1b",
               background: str | None = None, padding: float | None = None, scale: float = 1.0,
               variable_width: bool = False, title: str | None = None) -> str:
    """One ink (or a stroke-3 array in raw units) as an SVG document string; one <path> per stroke."""
    return inks_to_svg([ink_or_stroke3], stroke_width=stroke_width, color=color, background=background,
                       padding=padding, scale=scale, variable_width=variable_width, title=title)

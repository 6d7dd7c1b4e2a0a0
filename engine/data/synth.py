"""Synthetic handwriting: text lines written with the single-stroke Hershey script font, timed like a pen.

Why: IAM-OnDB may not be redistributed, so the bundled synthesis model is trained on this corpus.

How a line is made:

1. Glyphs come from the Hershey ``cursive`` font (script lowercase and capitals, single-stroke digits and
   punctuation); a character it lacks falls back to the simplex font ``futural``. Within a glyph, strokes
   that touch are joined into one pen stroke (retracing the previous stroke where a real pen would, as
   in the stems of d, m, n, p), small marks (i/j dots) are written last, and the polylines are smoothed
   with centripetal Catmull-Rom splines. Neighbouring letters of a word are joined where the exit stroke
   of one meets the entry stroke of the next, so a word is a few long strokes like real cursive.
2. A *writer* (:class:`WriterStyle`) fixes x-height, width, slant, letter and word spacing, baseline drift
   and tilt, the amount of smooth shape jitter, per-letter size variation and pen speed; lines by the same
   writer share them (that is the style priming picks up), every line still varies.
3. The pen moves fast on straight parts and slows in curves (a 2/3-power-law-like profile) and at stroke
   ends; points are sampled at 70 Hz, which gives IAM-like densities (~26 points per letter).

Units: y points down, baseline at y = 0, x-height 20-28 units depending on the writer (IAM after /10).

Public API::

    SynthConfig, WriterStyle, make_writers(n, seed) -> list[WriterStyle]
    render_line(text, writer, rng=None, seed=None) -> Ink            (absolute coords, time channel)
    corpus_lines(text, n, seed, min_chars=20, max_chars=50, mix=0.2, caps=0.0) -> list[str]
    synth_dataset(lines, writers=20, seed=0, jobs=1, progress=None, hz=70.0) -> InkDataset
    synth_corpus(corpus_text, n_lines, writers=20, seed=0, mix=0.2, caps=0.0, min_chars=20, max_chars=50, jobs=1,
                 progress=None, hz=70.0) -> InkDataset
    supported_chars() -> str ; REQUIRED_CHARS
"""

from __future__ import annotations

import string
import zlib
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np

from engine.core.errors import DataError
from engine.data.ink import Ink, Stroke
from engine.data.ink_dataset import InkDataset, InkLine

SCRIPT_FONT = "cursive"
FALLBACK_FONT = "futural"
REQUIRED_CHARS = string.ascii_lowercase + string.ascii_uppercase + string.digits + " .,;:!?'\"-()&/"
SAMPLE_HZ = 70.0
_BASELINE = 9.0            # Hershey: cap line -12, x-height top 0, baseline 9, descender 21
_XHEIGHT = 9.0
_DENSE = 0.5               # spline sampling step (font units)
_JOIN = 1.6                # end-to-start distance (font units) that counts as touching
_TOUCH = 0.8               # distance of a stroke start to an earlier stroke that counts as touching
_RETRACE_MAX = 14.0        # longest retrace along the previous stroke (font units)


# ------------------------------------------------------------------------------------------ glyphs
def _centripetal_cr(p: np.ndarray, step: float = _DENSE) -> np.ndarray:
    """Dense centripetal Catmull-Rom spline through the points of a polyline (end points kept)."""
    # drop repeated points
    keep = np.concatenate([[True], np.any(np.abs(np.diff(p, axis=0)) > 1e-9, axis=1)])
    p = p[keep]
    n = len(p)
    if n < 2:
        return p.copy()
    if n == 2:
        m = max(int(np.ceil(np.hypot(*(p[1] - p[0])) / step)), 1)
        u = np.linspace(0, 1, m + 1)[:, None]
        return p[0] * (1 - u) + p[1] * u
    ext = np.vstack([2 * p[0] - p[1], p, 2 * p[-1] - p[-2]])
    out = [p[:1]]
    for i in range(n - 1):
        p0, p1, p2, p3 = ext[i], ext[i + 1], ext[i + 2], ext[i + 3]
        d01 = max(np.hypot(*(p1 - p0)), 1e-6) ** 0.5
        d12 = max(np.hypot(*(p2 - p1)), 1e-6) ** 0.5
        d23 = max(np.hypot(*(p3 - p2)), 1e-6) ** 0.5
        t0, t1 = 0.0, d01
        t2, t3 = t1 + d12, t1 + d12 + d23
        m = max(int(np.ceil(np.hypot(*(p2 - p1)) / step)), 1)
        t = np.linspace(t1, t2, m + 1)[1:, None]
        a1 = (t1 - t) / (t1 - t0) * p0 + (t - t0) / (t1 - t0) * p1
        a2 = (t2 - t) / (t2 - t1) * p1 + (t - t1) / (t2 - t1) * p2
        a3 = (t3 - t) / (t3 - t2) * p2 + (t - t2) / (t3 - t2) * p3
        b1 = (t2 - t) / (t2 - t0) * a1 + (t - t0) / (t2 - t0) * a2
        b2 = (t3 - t) / (t3 - t1) * a2 + (t - t1) / (t3 - t1) * a3
        out.append((t2 - t) / (t2 - t1) * b1 + (t - t1) / (t2 - t1) * b2)
    return np.vstack(out)


def _project(p: np.ndarray, poly: np.ndarray) -> tuple[float, int, np.ndarray]:
    """Distance from p to polyline, index of the segment and the nearest point on it."""
    a, b = poly[:-1], poly[1:]
    ab = b - a
    L2 = np.maximum((ab ** 2).sum(1), 1e-12)
    u = np.clip(((p - a) * ab).sum(1) / L2, 0, 1)
    q = a + u[:, None] * ab
    d = np.hypot(*(q - p).T)
    i = int(np.argmin(d))
    return float(d[i]), i, q[i]


def _join_strokes(strokes: list[np.ndarray], near: float = 0.0) -> list[np.ndarray]:
    """Join strokes of one glyph where they touch, as a pen would write them. With ``near`` > 0 a stroke
    that starts within ``near`` of the previous stroke's end is joined by a straight pen-down move too
    (the up-and-back-down of u, y, w, g, q in cursive)."""
    out: list[np.ndarray] = []
    single = False                 # out[-1] is still one original stroke (free to reverse)
    for s in strokes:
        if out:
            prev = out[-1]
            if single and len(prev) > 1 and len(s) > 1:
                if np.hypot(*(prev[0] - s[0])) <= _JOIN:       # two strokes from one point, e.g. print A
                    out[-1], single = np.vstack([prev[::-1], s[1:]]), False
                    continue
                if np.hypot(*(prev[0] - s[-1])) <= _JOIN and np.hypot(*(prev[-1] - s[0])) > _JOIN:
                    out[-1], single = np.vstack([s, prev[1:]]), False
                    continue
            single = False
            if np.hypot(*(prev[-1] - s[0])) <= _JOIN:
                out[-1] = np.vstack([prev, s[1:]])
                continue
            if np.hypot(*(prev[-1] - s[-1])) <= _JOIN and len(s) > 1:
                out[-1] = np.vstack([prev, s[::-1][1:]])
                continue
            if len(prev) > 1:
                d, i, q = _project(s[0], prev)
                if d <= _TOUCH:
                    back = np.vstack([prev[:i:-1], q[None]])      # retrace from the end to the touch point
                    length = np.hypot(*np.diff(np.vstack([prev[-1:], back]), axis=0).T).sum()
                    if length <= _RETRACE_MAX:
                        out[-1] = np.vstack([prev, back[1:] if len(back) > 1 else back, s])
                        continue
            if near and np.hypot(*(prev[-1] - s[0])) <= near:
                out[-1] = np.vstack([prev, s])
                continue
        out.append(s)
        single = True
    return out


@dataclass
class _Glyph:
    strokes: list[np.ndarray]       # dense pen strokes, font units, x from the glyph's left, y: baseline 0
    width: float

    def __post_init__(self):
        self.flat = np.concatenate(self.strokes) if self.strokes else None          # all points
        self.sid = np.repeat(np.arange(len(self.strokes)), [len(s) for s in self.strokes])  # their stroke


def _font(name: str):
    from HersheyFonts import HersheyFonts

    f = HersheyFonts()
    f.load_default_font(name)
    return f.all_glyphs


_NEAR_JOIN = 7.5           # lowercase script letters: bridge gaps up to this (font units) with the pen down
_LIFT = set("ijtx")        # ... except where the pen really lifts (dots, crossings)


def _make_glyph(g, char: str = "", sx: float = 1.0, sy: float = 1.0) -> _Glyph:
    """Pen strokes of a Hershey glyph; ``sx, sy`` rescale it (baseline fixed)."""
    raw = [(np.array(s, dtype=np.float64) - [g.left_offset, _BASELINE]) * [sx, sy] for s in g.strokes if len(s)]
    near = _NEAR_JOIN if char.islower() and char not in _LIFT else 0.0
    joined = _join_strokes(raw, near)
    small = [s for s in joined if np.ptp(s[:, 0]) + np.ptp(s[:, 1]) < 3.5]
    if small and len(small) < len(joined):                 # dots and ticks are written after the body
        joined = [s for s in joined if not any(s is t for t in small)] + small
    for k, s in enumerate(joined):                         # Hershey dots are little diamonds: shrink them
        if len(s) > 2 and np.ptp(s[:, 0]) + np.ptp(s[:, 1]) < 3.5 and np.hypot(*(s[0] - s[-1])) < 0.5:
            c = s.mean(axis=0)
            joined[k] = c + (s - c) * 0.6
    return _Glyph([_centripetal_cr(s) for s in joined], float(g.char_width) * sx)


@lru_cache(maxsize=1)
def _glyphs() -> dict[str, _Glyph]:
    script, fallback = _font(SCRIPT_FONT), _font(FALLBACK_FONT)
    table = {}
    for code in range(32, 127):
        c = chr(code)
        g = script.get(c)
        if g is None or (c != " " and not g.strokes):
            g = fallback.get(c)
        if g is None:
            continue
        if c.isdigit():           # simplex digits are as wide as capitals; handwritten ones are narrower
            table[c] = _make_glyph(g, "", 0.72, 0.9)
        else:
            table[c] = _make_glyph(g, c if g is script.get(c) else "")
    return table


@lru_cache(maxsize=1)
def _print_capitals() -> dict[str, _Glyph]:
    """Print (simplex) capitals for writers who print their capitals."""
    fallback = _font(FALLBACK_FONT)
    return {c: _make_glyph(fallback[c], "", 0.85, 1.0) for c in string.ascii_uppercase}


def supported_chars() -> str:
    """Every character the synthetic writer can write (printable ASCII)."""
    return "".join(sorted(_glyphs()))


# ------------------------------------------------------------------------------------------ writers
@dataclass
class WriterStyle:
    name: str = "synth-000"
    x_height: float = 24.0          # output units
    width: float = 0.85             # horizontal scale of the glyphs
    slant: float = 0.15             # shear: x += slant * height above the baseline
    letter_spacing: float = 0.5     # extra gap between letters (font units; joins stretch over it)
    word_spacing: float = 1.0       # factor on the space width
    drift: float = 0.5              # baseline wave amplitude (font units)
    drift_wavelength: float = 150.0  # font units
    tilt: float = 0.0               # baseline slope (dy/dx)
    jitter: float = 0.25            # smooth shape noise amplitude (font units)
    glyph_var: float = 0.04         # per-letter random size variation (fraction)
    speed: float = 1.0              # pen speed factor (faster -> fewer points per letter)
    caps: str = "script"            # "script" or "print" capitals
    ascender: float = 1.0           # scale of the parts above the x-height (ascenders, capitals)
    descender: float = 1.0          # scale of the parts below the baseline (descenders)

    @classmethod
    def random(cls, rng: np.random.Generator, name: str) -> "WriterStyle":
        return cls(name=name,
                   x_height=float(rng.uniform(20, 28)),
                   width=float(rng.uniform(0.66, 0.92)),
                   slant=float(np.clip(rng.normal(0.12, 0.16), -0.2, 0.45)),
                   letter_spacing=float(rng.uniform(-0.5, 1.2)),
                   word_spacing=float(rng.uniform(0.7, 1.2)),
                   drift=float(rng.uniform(0.0, 1.0)),
                   drift_wavelength=float(rng.uniform(80, 260)),
                   tilt=float(rng.normal(0, 0.012)),
                   jitter=float(rng.uniform(0.05, 0.25)),
                   glyph_var=float(rng.uniform(0.015, 0.06)),
                   speed=float(rng.uniform(0.8, 1.25)),
                   caps="print" if rng.random() < 0.4 else "script",
                   ascender=float(rng.uniform(0.75, 1.1)),
                   descender=float(rng.uniform(0.7, 1.1)))

    def to_json(self) -> dict:
        return asdict(self)


def make_writers(n: int, seed: int = 0) -> list[WriterStyle]:
    """``n`` reproducible writer styles (the same seed gives the same writers)."""
    if n < 1:
        raise DataError(f"need at least one writer, got {n}")
    rng = np.random.default_rng([seed, 0x5717E])
    return [WriterStyle.random(rng, f"synth-{i:03d}") for i in range(n)]


# ------------------------------------------------------------------------------------------ a line
def _smooth_noise(s: np.ndarray, rng: np.random.Generator, amp: float, wavelengths=(9.0, 17.0, 37.0)) -> np.ndarray:
    """Smooth 1-D noise along arc length s: a few sinusoids with random phases (amplitude ~amp)."""
    grid = np.arange(0.0, s[-1] + 2.0, 1.0)            # evaluate on a 1-unit grid, interpolate
    lam = np.asarray(wavelengths)[:, None] * rng.uniform(0.8, 1.25, (len(wavelengths), 1))
    a = rng.normal(0, 1, (len(wavelengths), 1))
    ph = rng.uniform(0, 2 * np.pi, (len(wavelengths), 1))
    out = (a * np.sin(2 * np.pi * grid[None] / lam + ph)).sum(0) * (amp / np.sqrt(len(wavelengths)))
    return np.interp(s, grid, out)


def _layout(text: str, w: WriterStyle, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Place the glyphs: dense pen-stroke points in font units (baseline 0) and their stroke ids; letters of
    a word are joined where the exit of one meets the entry of the next."""
    table = _glyphs()
    caps = _print_capitals() if w.caps == "print" else {}
    glyphs = []
    for c in text:
        g = caps.get(c) or table.get(c)
        if g is None:
            raise DataError(f"the synthetic writer cannot write {c!r}")
        glyphs.append(g)
    r = rng.normal(0, 1, (len(text), 4))
    join = _JOIN + w.letter_spacing + 0.6
    parts, ids = [], []
    x, next_id, prev_end = 0.0, 0, None
    for c, g, ri in zip(text, glyphs, r):
        if g.flat is None:                                  # space
            x += g.width * w.width * w.word_spacing * (1.0 + 0.09 * ri[0])
            prev_end = None
            continue
        k = 1.0 + w.glyph_var * ri[0]
        p = g.flat * (k * w.width, k) + (x + 0.15 * ri[1], 0.12 * ri[2])
        joined = prev_end is not None and np.hypot(prev_end[0] - p[0, 0], prev_end[1] - p[0, 1]) <= join
        sid = g.sid + (next_id - 1 if joined else next_id)
        next_id = int(sid[-1]) + 1
        parts.append(p)
        ids.append(sid)
        prev_end = p[-1]
        x += g.width * k * w.width + w.letter_spacing + 0.15 * ri[3]
    if not parts:
        raise DataError(f"nothing to write in {text!r}")
    return np.concatenate(parts), np.concatenate(ids)


def _time_line(P: np.ndarray, sid: np.ndarray, v0: float, hz: float, xh: float, keep_turns: bool = True):
    """Move the pen along dense strokes and sample it at ``hz``, all strokes at once.

    The pen is fast on straight parts, slower in curves (speed ~ (1 + r*curvature)^-0.4, slowest at cusps)
    and accelerates / brakes near stroke ends; between strokes it is lifted for a time that grows with the
    distance. With ``keep_turns`` the turning points of the path are sampled too, so shapes survive low
    rates. Returns (x, y, t, stroke id) of the samples."""
    n = len(P)
    d = np.diff(P, axis=0)
    ds = np.hypot(d[:, 0], d[:, 1])
    same = sid[1:] == sid[:-1]                              # step i -> i+1 is pen-down
    ang = np.arctan2(d[:, 1], d[:, 0])
    turn = np.abs((np.diff(ang) + np.pi) % (2 * np.pi) - np.pi)
    curv = np.zeros(n)
    inner = same[:-1] & same[1:]
    curv[1:-1] = np.where(inner, turn / np.maximum(0.5 * (ds[:-1] + ds[1:]), 1e-6), 0.0)
    curv = np.convolve(curv, np.ones(5) / 5, mode="same")
    # arc length from the stroke's start and to its end
    seg = np.where(same, ds, 0.0)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    starts = np.flatnonzero(np.concatenate([[True], ~same]))
    ends = np.concatenate([starts[1:], [n]]) - 1
    s0 = cum - np.repeat(cum[starts], np.diff(np.append(starts, n)))
    L = np.repeat(cum[ends] - cum[starts], np.diff(np.append(starts, n)))
    v = v0 * (1.0 + 0.5 * xh * curv) ** -0.4
    v *= np.minimum(1.0, 0.35 + 0.65 * np.minimum(s0, L - s0) / (0.3 * xh))
    # time: along strokes ds / v, across pen-ups a lift time growing with the distance
    dt = np.where(same, seg / np.maximum(0.5 * (v[:-1] + v[1:]), 1e-6), 0.06 + ds / (1.4 * v0))
    tc = np.concatenate([[0.0], np.cumsum(dt)])
    T0, T1 = tc[starts], tc[ends]
    m = np.maximum(np.round((T1 - T0) * hz).astype(np.int64), 0) + 1      # samples per stroke
    k = np.arange(m.sum()) - np.repeat(np.cumsum(m) - m, m)
    step = np.where(m > 1, (T1 - T0) / np.maximum(m - 1, 1), 0.0)
    q = np.repeat(T0, m) + k * np.repeat(step, m)
    if keep_turns:
        # also sample the turning points (top / bottom of a curve, cusps) so no sampling rate cuts them off;
        # regular samples closer than 0.4 of a period to one are dropped
        dy = np.diff(P[:, 1])
        ext = np.zeros(n, dtype=bool)
        ext[1:-1] = inner & (dy[:-1] * dy[1:] < 0)
        sharp = np.zeros(n, dtype=bool)
        sharp[1:-1] = inner & (turn > 1.2)
        key = tc[ext | sharp]
        if len(key) > 1:                                  # at most one turning point per half period
            key = key[np.concatenate([[True], np.diff(key) > 0.5 / hz])]
        if len(key):
            j = np.clip(np.searchsorted(key, q), 1, len(key) - 1) if len(key) > 1 else np.zeros(len(q), int)
            near = np.minimum(np.abs(q - key[j]), np.abs(q - key[np.maximum(j - 1, 0)])) < 0.4 / hz
            near[np.concatenate([[0], np.cumsum(m)[:-1]])] = False      # keep every stroke's first ...
            near[np.cumsum(m) - 1] = False                               # ... and last sample
            q = np.sort(np.concatenate([q[~near], key]))
    x = np.interp(q, tc, P[:, 0])
    y = np.interp(q, tc, P[:, 1])
    return x, y, q, np.searchsorted(T0, q, side="right") - 1


def _render_flat(text: str, w: WriterStyle, rng: np.random.Generator, hz: float):
    text = " ".join(text.split())
    P, sid = _layout(text, w, rng)
    # ascender / descender proportions, smooth shape jitter, slant, baseline drift and tilt (font units)
    y = P[:, 1]
    P[:, 1] = np.where(y < -_XHEIGHT, -_XHEIGHT + (y + _XHEIGHT) * w.ascender,
                       np.where(y > 0, y * w.descender, y))
    seg = np.hypot(*np.diff(P, axis=0).T)
    s = np.concatenate([[0.0], np.cumsum(np.minimum(seg, 2.0))])
    P[:, 0] += _smooth_noise(s, rng, w.jitter)
    P[:, 1] += _smooth_noise(s, rng, w.jitter)
    P[:, 0] -= w.slant * P[:, 1]
    phase = rng.uniform(0, 2 * np.pi)
    P[:, 1] += w.drift * np.sin(2 * np.pi * P[:, 0] / w.drift_wavelength + phase) + w.tilt * P[:, 0]
    P *= w.x_height / _XHEIGHT
    # ~20 x-heights per second on straight parts at speed 1
    return text, _time_line(P, sid, 20.0 * w.x_height * w.speed, hz, w.x_height)


def render_line(text: str, writer: WriterStyle | None = None, rng: np.random.Generator | None = None,
                seed: int | None = None, hz: float = SAMPLE_HZ) -> Ink:
    """One line of synthetic handwriting (y down, baseline at 0, strokes with a time channel)."""
    w = writer or WriterStyle()
    rng = rng if rng is not None else np.random.default_rng(seed)
    text, (x, y, t, sid) = _render_flat(text, w, rng, hz)
    cuts = np.flatnonzero(np.diff(sid)) + 1
    strokes = [Stroke(a, b, c) for a, b, c in zip(np.split(x, cuts), np.split(y, cuts), np.split(t, cuts))]
    return Ink(strokes, text, w.name, {"synthetic": True})


def _stroke3(x, y, sid) -> np.ndarray:
    """Stroke-3 of flat points, moved so the first point is at the origin."""
    out = np.zeros((len(x), 3), dtype=np.float32)
    out[1:, 0] = np.diff(x)
    out[1:, 1] = np.diff(y)
    out[:-1, 2] = sid[1:] != sid[:-1]
    out[-1, 2] = 1
    return out


# ------------------------------------------------------------------------------------------ text lines
_WORD_CHARS = set(string.ascii_letters + string.digits + ".,;:!?'\"-()&/")


def _words(corpus: str) -> list[str]:
    ok = set(supported_chars()) - {" "}
    return [w for w in corpus.split() if w and all(c in ok for c in w)]


def _mixed_token(rng: np.random.Generator, words: list[str]) -> str:
    """A token that exercises digits, capitals and punctuation."""
    r = rng.random()
    word = words[rng.integers(len(words))] if words else "word"
    bare = word.strip(".,;:!?'\"()-&/") or "so"
    if r < 0.22:
        kind = rng.integers(6)
        n = int(rng.integers(0, 10 ** int(rng.integers(1, 5))))
        return [str(n), f"{n}.{rng.integers(0, 100):02d}", f"{rng.integers(1, 13)}:{rng.integers(0, 60):02d}",
                f"({n})", f"{rng.integers(1, 32)}/{rng.integers(1, 13)}", f"No. {n}"][kind]
    if r < 0.36:
        return bare.upper()
    if r < 0.55:
        return bare.capitalize()
    if r < 0.68:
        q = ['"', "'", "("][int(rng.integers(3))]
        return q + bare + {'"': '"', "'": "'", "(": ")"}[q]
    if r < 0.8:
        return bare + str(rng.choice(list(".,;:!?")))
    if r < 0.86:
        return bare + "-" + (words[rng.integers(len(words))].strip(".,;:!?'\"()-&/") or "and") if words else bare
    if r < 0.9:
        return "&" if rng.random() < 0.5 else "and/or"
    return word


def corpus_lines(corpus: str, n: int, seed: int = 0, min_chars: int = 20, max_chars: int = 50,
                 mix: float = 0.2, caps: float = 0.0) -> list[str]:
    """``n`` text lines of ``min_chars``-``max_chars`` characters cut at word boundaries from random places in
    ``corpus``; a fraction ``mix`` of them are mixed lines with many digits, capitals and punctuation, and a
    fraction ``caps`` of all lines are written in capitals throughout (drawn from a stream of their own, so
    ``caps=0`` gives the same lines as before the option existed)."""
    if not 1 <= min_chars <= max_chars:
        raise DataError(f"bad line length range {min_chars}-{max_chars}")
    if not 0.0 <= caps <= 1.0:
        raise DataError(f"caps must be a fraction in [0, 1], got {caps}")
    caps_rng = np.random.default_rng([seed, 0xCA95])
    words = _words(corpus)
    if not words:
        raise DataError("the corpus has no words the synthetic writer can write")
    rng = np.random.default_rng([seed, 0x11E5])
    out = []
    for _ in range(n):
        target = int(rng.integers(min_chars, max_chars + 1))
        mixed = rng.random() < mix
        i = int(rng.integers(len(words)))
        toks: list[str] = []
        length = -1
        while length < target:
            tok = _mixed_token(rng, words) if mixed else words[i % len(words)]
            i += 1
            if length + 1 + len(tok) > max_chars and length >= min_chars:
                break
            if len(tok) > max_chars:
                tok = tok[:max_chars]
            toks.append(tok)
            length += 1 + len(tok)
        line = " ".join(toks)[:max_chars].strip()
        if caps_rng.random() < caps:
            line = line.upper()
        out.append(line)
    return out


# ------------------------------------------------------------------------------------------ datasets
def _split(i: int) -> str:
    r = zlib.crc32(f"line-{i}".encode()) % 20
    return "test" if r == 0 else "val" if r == 1 else "train"


def _render_chunk(job) -> list[tuple[np.ndarray, str, str]]:
    lines, writers, seed, start, hz = job
    out = []
    for k, text in enumerate(lines):
        i = start + k
        w = writers[i % len(writers)]
        text, (x, y, _, sid) = _render_flat(text, w, np.random.default_rng([seed, i]), hz)
        out.append((_stroke3(x, y, sid), text, w.name))
    return out


def synth_dataset(lines: list[str], writers: int | list[WriterStyle] = 20, seed: int = 0, jobs: int = 1,
                  progress=None, hz: float = SAMPLE_HZ) -> InkDataset:
    """Render text lines into an :class:`InkDataset` (line i by writer i mod W; split 90/5/5 by line).

    ``hz`` is the pen sampling rate: 70 gives IAM-like ~26 points per letter; lower rates give shorter
    sequences (30 Hz: ~12 per letter) for faster training. Same arguments -> the same dataset."""
    if not 5 <= hz <= 500:
        raise DataError(f"sampling rate must be within 5-500 Hz, got {hz}")
    ws = make_writers(writers, seed) if isinstance(writers, int) else list(writers)
    lines = [" ".join(l.split()) for l in lines]
    lines = [l for l in lines if l]
    if not lines:
        raise DataError("no text lines to write")
    bad = sorted({c for l in lines for c in l} - set(supported_chars()))
    if bad:
        raise DataError(f"the synthetic writer cannot write {', '.join(map(repr, bad))}")
    chunk = max(40, min(250, -(-len(lines) // (4 * max(jobs, 1)))))
    jobs_list = [(lines[a:a + chunk], ws, seed, a, hz) for a in range(0, len(lines), chunk)]
    results: list = []
    if jobs > 1 and len(jobs_list) > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(jobs) as pool:
            for r in pool.imap(_render_chunk, jobs_list):
                results.extend(r)
                if progress:
                    progress(len(results), len(lines))
    else:
        for job in jobs_list:
            results.extend(_render_chunk(job))
            if progress:
                progress(len(results), len(lines))
    ink_lines = [InkLine(pts, text, wname, _split(i), f"synth-{i:06d}") for i, (pts, text, wname) in enumerate(results)]
    return InkDataset.from_lines(ink_lines, source="synthetic (Hershey cursive)",
                                 extra={"units": "synthetic", "seed": seed, "sample_hz": hz,
                                        "writers": [w.to_json() for w in ws]})


def synth_corpus(corpus: str, n_lines: int, writers: int | list[WriterStyle] = 20, seed: int = 0,
                 mix: float = 0.2, min_chars: int = 20, max_chars: int = 50, jobs: int = 1,
                 progress=None, hz: float = SAMPLE_HZ, caps: float = 0.0) -> InkDataset:
    """Cut ``n_lines`` lines from a corpus text and render them (see :func:`corpus_lines`)."""
    return synth_dataset(corpus_lines(corpus, n_lines, seed, min_chars, max_chars, mix, caps), writers, seed, jobs,
                         progress, hz)

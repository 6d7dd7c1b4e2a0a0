"""Synthetic handwriting: text lines written with single-stroke Hershey fonts in four hand families, timed
like a pen.

Why: IAM-OnDB may not be redistributed, so the bundled synthesis model is trained on this corpus; it must
cover the ways people actually write, or the model's style space has only one hand.

Hand families (``HANDS``; a writer belongs to one):

* ``print``   - upright print from the simplex sans/roman fonts (``futural``, ``rowmans``; a, d, g, q written
  bowl first, then the stem). The pen lifts between letters and, for many writers, within letters too (k, t,
  x, E in two or three strokes); some writers join a few letter pairs with an upstroke. Written slower.
* ``italic``  - the same single-storey print letters, strongly slanted (0.2-0.4) and compressed, with rounded
  corners and many (not all) letters joined by curved upstrokes from a low exit to the next letter's entry.
* ``script``  - joined school script (``scripts``: script letters, digits and punctuation with the font's
  shading strokes dropped), rounder and more upright; many writers lift the pen at a few habitual letter
  pairs (semi-joined).
* ``cursive`` - fully joined script (``cursive``: script letters with simplex digits), the original corpus
  hand.

How a line is made:

1. Glyphs come from the family's Hershey font (a character it lacks falls back to ``futural``), scaled so
   the x-height is 9 font units. Within a glyph, strokes that touch are joined into one pen stroke
   (retracing the previous stroke where a real pen would, as in the stems of d, m, n, p) unless the writer
   lifts within that letter, small marks (i/j dots) are written after the body, and the polylines are
   smoothed with centripetal Catmull-Rom splines.
2. A *writer* (:class:`WriterStyle`) fixes the family and font, x-height, width, slant, letter and word
   spacing, baseline drift and tilt, pen speed, capitals, ascender/descender proportions, how often it joins
   letters (``join``; a script or cursive writer may also join into the letters the fonts start away from the
   last letter's exit, a, c, d, e, g, o, q, w, as real joined hands do: ``join_round``) and lifts within letters
   (``lift``), whether it dots i/j and crosses t/f/x after the word (``late_marks``), how round its corners are
   (``rounding``), and a smooth random displacement field in glyph coordinates (``deform``, from the writer's
   ``seed``) that gives each of its letters a shape of its own, the same on every line. Every repetition of
   a letter still varies: size, position, slant and a smaller fresh displacement field (``glyph_var``,
   ``slant_var``, ``letter_var``), plus smooth jitter along the line (``jitter``). Lines by the same writer
   share all of this (that is the style priming picks up).
3. The pen moves fast on straight parts and slows in curves (a 2/3-power-law-like profile) and at stroke
   ends, and its speed drifts up and down along the line over a letter or a few (``speed_var``, fresh on
   every line; a real pen is never as regular as the curvature alone would make it), flutters from one
   sample to the next (``flutter``) and rests a moment where it lands and at sharp turns (``pause``); points
   are sampled at 70 Hz, which gives IAM-like densities (~24 points per letter over the default mix: ~26 for script
   and cursive, ~23 print, ~20 italic).

``make_writers(n, seed, hands)`` draws the writers per family in proportion to ``hands`` (default
``DEFAULT_HANDS``: print 0.35, italic 0.15, script 0.2, cursive 0.3). Datasets record each line's writer id
and hand family (``lines_meta[i]["writer"]``, ``["hand"]``).

Units: y points down, baseline at y = 0, x-height 20-28 units depending on the writer (IAM after /10).

Public API::

    WriterStyle, HANDS, DEFAULT_HANDS, parse_hands(spec) -> dict[str, float]
    make_writers(n, seed, hands=None, shape_var=1.0, word_space=1.0, round_joins=0.0, script_lifts=0.0,
                 late_marks=0.5)
        -> list[WriterStyle]
    render_line(text, writer, rng=None, seed=None) -> Ink            (absolute coords, time channel)
    corpus_lines(text, n, seed, min_chars=20, max_chars=50, mix=0.2, caps=0.0) -> list[str]
    synth_dataset(lines, writers=20, seed=0, jobs=1, progress=None, hz=70.0, hands=None, shape_var=1.0,
                  word_space=1.0) -> InkDataset
    synth_corpus(corpus_text, n_lines, writers=20, seed=0, mix=0.2, caps=0.0, min_chars=20, max_chars=50, jobs=1,
                 progress=None, hz=70.0, hands=None, shape_var=1.0, word_space=1.0) -> InkDataset
    supported_chars() -> str ; REQUIRED_CHARS
"""

from __future__ import annotations

import math
import string
import zlib
from dataclasses import asdict, dataclass, replace
from functools import lru_cache

import numpy as np

from engine.core.errors import DataError
from engine.data.ink import Ink, Stroke
from engine.data.ink_dataset import InkDataset, InkLine

SCRIPT_FONT = "cursive"
FALLBACK_FONT = "futural"
REQUIRED_CHARS = string.ascii_lowercase + string.ascii_uppercase + string.digits + " .,;:!?'\"-()&/"
SAMPLE_HZ = 70.0
HANDS = ("print", "italic", "script", "cursive")
DEFAULT_HANDS = {"print": 0.35, "italic": 0.15, "script": 0.2, "cursive": 0.3}
LATE_MARKS = 0.5   # the share of the writers who dot and cross after the word (``make_writers(late_marks=)``)
HAND_FONTS = {"print": ("futural", "rowmans"), "italic": ("rowmans", "futural"), "script": ("scripts",),
              "cursive": ("cursive",)}
_SCRIPT_FONTS = {"cursive", "scripts"}            # letters designed to join (cap line -12, x-height top 0)
_FONT_XHEIGHT = {"cursive": 9.0, "scripts": 9.0, "futural": 14.0, "rowmans": 14.0}
_BASELINE = 9.0            # Hershey: cap line -12, x-height top 0 (print fonts: -5), baseline 9, descender 21
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
    # all segments at once: segment i runs from p[i] to p[i + 1] with neighbours ext[i], ext[i + 3]
    m = np.maximum(np.ceil(np.hypot(*(p[1:] - p[:-1]).T) / step).astype(np.int64), 1)
    seg = np.repeat(np.arange(n - 1), m)
    k = (np.arange(m.sum()) - np.repeat(np.cumsum(m) - m, m) + 1) / m[seg]
    p0, p1, p2, p3 = ext[seg], ext[seg + 1], ext[seg + 2], ext[seg + 3]
    d01 = np.maximum(np.hypot(*(p1 - p0).T), 1e-6) ** 0.5
    d12 = np.maximum(np.hypot(*(p2 - p1).T), 1e-6) ** 0.5
    d23 = np.maximum(np.hypot(*(p3 - p2).T), 1e-6) ** 0.5
    t1 = d01[:, None]
    t2, t3 = t1 + d12[:, None], t1 + (d12 + d23)[:, None]
    t = t1 + (t2 - t1) * k[:, None]
    a1 = (t1 - t) / t1 * p0 + t / t1 * p1
    a2 = (t2 - t) / (t2 - t1) * p1 + (t - t1) / (t2 - t1) * p2
    a3 = (t3 - t) / (t3 - t2) * p2 + (t - t2) / (t3 - t2) * p3
    b1 = (t2 - t) / t2 * a1 + t / t2 * a2
    b2 = (t3 - t) / (t3 - t1) * a2 + (t - t1) / (t3 - t1) * a3
    return np.vstack([p[:1], (t2 - t) / (t2 - t1) * b1 + (t - t1) / (t2 - t1) * b2])


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


class _Glyph:
    """Pen strokes of one character, flattened: ``flat`` (n, 2) dense points in font units (x from the glyph's
    left, y down, baseline 0), ``sid`` their stroke (0, 1, ...); the last ``marks`` strokes are dots, bars or
    crossings (i, j, t, f, x) that a writer may add after the word: ``nbody`` points in ``nsb`` strokes come
    before them, ``msid`` are their stroke ids counted from 0. ``entry`` / ``exit`` (first point, last body
    point) and ``join_in`` / ``join_out`` (a print or italic writer may join into / out of it: it starts at its
    left within the x-height band, it ends low at its right) decide the joins."""

    __slots__ = ("flat", "sid", "width", "n", "nbody", "nsb", "ns", "msid", "entry", "exit", "join_in", "join_out")

    def __init__(self, strokes: list[np.ndarray], width: float, marks: int = 0, char: str = ""):
        self.width = width
        self.join_in = self.join_out = False
        self.n = self.nbody = self.nsb = self.ns = 0
        self.flat = self.sid = self.msid = self.entry = self.exit = None
        if not strokes:
            return
        self.flat = np.concatenate(strokes)
        self.sid = np.repeat(np.arange(len(strokes)), [len(s) for s in strokes])
        self.n, self.ns, self.nsb = len(self.flat), len(strokes), len(strokes) - marks
        self.nbody = sum(len(s) for s in strokes[:self.nsb])
        self.msid = self.sid[self.nbody:] - self.nsb
        self.entry = (float(self.flat[0, 0]), float(self.flat[0, 1]))
        self.exit = (float(self.flat[self.nbody - 1, 0]), float(self.flat[self.nbody - 1, 1]))
        if char.islower():
            x0, x1 = self.flat[:, 0].min(), self.flat[:, 0].max()
            span = max(x1 - x0, 1e-6)
            self.join_in = bool((self.entry[0] <= x0 + 0.3 * span or span < 1.5) and char not in _NO_JOIN_IN
                                and -_XHEIGHT - 0.6 <= self.entry[1] <= 0.5)
            self.join_out = bool(-0.45 * _XHEIGHT <= self.exit[1] <= 1.0
                                 and (self.exit[0] >= x0 + 0.55 * span or span < 1.5))

    @property
    def strokes(self) -> list[np.ndarray]:
        if self.flat is None:
            return []
        return np.split(self.flat, np.flatnonzero(np.diff(self.sid)) + 1)

    def deformed(self, flat: np.ndarray) -> "_Glyph":
        """The same glyph with displaced points (joins are still decided on the undisplaced entry / exit)."""
        g = object.__new__(_Glyph)
        for k in self.__slots__:
            setattr(g, k, getattr(self, k))
        g.flat = flat
        return g


@lru_cache(maxsize=None)
def _font(name: str):
    from HersheyFonts import HersheyFonts

    f = HersheyFonts()
    f.load_default_font(name)
    return f.all_glyphs


_NEAR_JOIN = 7.5           # lowercase script letters: bridge gaps up to this (font units) with the pen down
_LIFT = set("ijtx")        # ... except where the pen really lifts (dots, crossings)
_MARKS = set("ijtfx")      # letters whose dot / bar / crossing may be written after the word
_NO_JOIN_IN = set("vwyz")  # print / italic: an upstroke into v, w, y reads as w, into z's top bar as r


def _count_marks(strokes: list[np.ndarray], char: str) -> int:
    """How many of the last strokes are a dot (i, j), a bar (t, f) or the crossing stroke (x)."""
    if char not in _MARKS or len(strokes) < 2:
        return 0
    m = 0
    for s in reversed(strokes[1:]):
        w, h = np.ptp(s[:, 0]), np.ptp(s[:, 1])
        if not (w + h < 3.5 if char in "ij" else (h < 1.5 and w > 1.5) if char in "tf" else True):
            break
        m += 1
        if char == "x":
            break
    return m


_BOWL_FIRST = set("adgq")  # print letters a hand writes bowl first, then the stem (Hershey: stem first)


def _unshade(strokes: list[np.ndarray], width: float = 2.0) -> list[np.ndarray]:
    """Drop the shading strokes of a typographic glyph: strokes running alongside others (within ``width``)
    to thicken them (the ``scripts`` digits and punctuation); a pen writes each line once. Shortest first;
    dots and ticks stay."""
    dense = [_centripetal_cr(s) for s in strokes]
    keep = [True] * len(strokes)
    for i in sorted(range(len(strokes)), key=lambda i: len(dense[i])):
        others = [d for j, d in enumerate(dense) if keep[j] and j != i]
        if not others or np.hypot(*np.diff(dense[i], axis=0).T).sum() < 2.5 * width:
            continue
        K = np.concatenate(others)
        d = dense[i]
        if np.all(np.min(np.hypot(d[:, None, 0] - K[None, :, 0], d[:, None, 1] - K[None, :, 1]), 1) < width):
            keep[i] = False
    return [s for s, k in zip(strokes, keep) if k]


def _make_glyph(g, char: str = "", sx: float = 1.0, sy: float = 1.0, near_join: bool | None = None,
                raw: bool = False, bowl_first: bool = False, unshade: bool = False) -> _Glyph:
    """Pen strokes of a Hershey glyph; ``sx, sy`` rescale it (baseline fixed). ``near_join`` (default: for
    lowercase letters but i, j, t, x) bridges small gaps with the pen down (script fonts); ``raw`` keeps the
    font's strokes apart (a print writer lifting within the letter); ``bowl_first`` writes a two-stroke
    stem + bowl letter (print a, d, g, q) bowl first, then up to the stem's top and down it."""
    raw_strokes = [(np.array(s, dtype=np.float64) - [g.left_offset, _BASELINE]) * [sx, sy] for s in g.strokes if len(s)]
    if near_join is None:
        near_join = char.islower() and char not in _LIFT
    if unshade:
        raw_strokes = _unshade(raw_strokes, 2.0 * sx)
    bowl_first = bowl_first and len(raw_strokes) == 2
    if bowl_first:
        raw_strokes = raw_strokes[::-1]
    joined = list(raw_strokes) if raw or bowl_first else _join_strokes(raw_strokes, _NEAR_JOIN if near_join else 0.0)
    small = [s for s in joined if np.ptp(s[:, 0]) + np.ptp(s[:, 1]) < 3.5]
    if small and len(small) < len(joined):                 # dots and ticks are written after the body
        joined = [s for s in joined if not any(s is t for t in small)] + small
    for k, s in enumerate(joined):                         # Hershey dots are little diamonds: shrink them
        if len(s) > 2 and np.ptp(s[:, 0]) + np.ptp(s[:, 1]) < 3.5 and np.hypot(*(s[0] - s[-1])) < 0.5:
            c = s.mean(axis=0)
            joined[k] = c + (s - c) * min(1.0, 0.6 / sy)  # (the same size in every font)
    strokes = [_centripetal_cr(s) for s in joined]
    if bowl_first and not raw:                             # bowl, straight up to the stem's top, down the stem
        strokes = [np.vstack(strokes)]
    return _Glyph(strokes, float(g.char_width) * sx, _count_marks(strokes, char), char)


@lru_cache(maxsize=None)
def _table(font: str = SCRIPT_FONT, raw: bool = False) -> dict[str, _Glyph]:
    """Glyphs of every printable character in one font (missing ones from ``futural``), x-height 9 units;
    ``raw``: print letters with the pen lifted between the font's strokes."""
    main, fallback = _font(font), _font(FALLBACK_FONT)
    script = font in _SCRIPT_FONTS
    s = _XHEIGHT / _FONT_XHEIGHT[font]
    table = {}
    for code in range(32, 127):
        c = chr(code)
        g = main.get(c)
        if g is None or (c != " " and not g.strokes):
            g = fallback.get(c)
        if g is None:
            continue
        native = g is main.get(c)
        unshade = font == "scripts" and native and not c.isalpha() and c != "@"
        if c.isdigit() and not (font == "scripts" and native):
            # simplex digits are as wide as capitals; handwritten ones are narrower
            table[c] = _make_glyph(g, c, 0.72, 0.9, False, raw) if script else _make_glyph(g, c, 0.8 * s, s, False, raw)
        else:
            table[c] = _make_glyph(g, c, s, s, script and native and c.islower() and c not in _LIFT, raw,
                                   not script and c in _BOWL_FIRST, unshade)
    return table


@lru_cache(maxsize=1)
def _print_capitals() -> dict[str, _Glyph]:
    """Print (simplex) capitals for script writers who print their capitals."""
    fallback = _font(FALLBACK_FONT)
    return {c: _make_glyph(fallback[c], c, 0.85, 1.0, False) for c in string.ascii_uppercase}


@lru_cache(maxsize=1)
def supported_chars() -> str:
    """Every character the synthetic writers of every hand can write (printable ASCII)."""
    def has(font: str, c: str) -> bool:
        g = _font(font).get(c)
        return g is not None and bool(g.strokes)

    fonts = {f for fs in HAND_FONTS.values() for f in fs}
    ok = {chr(c) for c in range(33, 127) if all(has(f, chr(c)) or has(FALLBACK_FONT, chr(c)) for f in fonts)}
    return "".join(sorted(ok | {" "}))


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
    jitter: float = 0.25            # smooth shape noise amplitude along the line (font units)
    glyph_var: float = 0.04         # per-letter random size variation (fraction)
    speed: float = 1.0              # pen speed factor (faster -> fewer points per letter)
    caps: str = "script"            # "script" or "print" capitals (print and italic hands always print)
    ascender: float = 1.0           # scale of the parts above the x-height (ascenders, capitals)
    descender: float = 1.0          # scale of the parts below the baseline (descenders)
    hand: str = "cursive"           # family: "print", "italic", "script" or "cursive" (see HANDS)
    font: str = ""                  # Hershey font ("" = the family's first, see HAND_FONTS)
    seed: int = 0                   # this writer's letter shapes (the deformation field)
    deform: float = 0.0             # per-writer smooth displacement of the glyph shapes (font units)
    letter_var: float = 0.0         # fresh smooth displacement of every written letter (font units)
    slant_var: float = 0.0          # per-letter random slant variation
    join: float = 1.0               # fraction of joinable letter pairs written without lifting the pen
    join_round: float = 0.0         # script fonts: fraction of the letters whose pen starts away from the last
                                    # letter's exit (a, c, d, e, g, o, q, w) joined to it by a pen-down stroke
    lift: float = 0.0               # print / italic: fraction of letters written with a lift inside them
    late_marks: float = 0.0         # fraction of words whose i/j dots and t/f/x bars come after the word
    rounding: float = 0.0           # corner rounding (font units)
    speed_var: float = 0.0          # smooth random change of pen speed along every line (log-speed amplitude)
    flutter: float = 0.0            # quick random change of pen speed, over about one sample (log-speed amplitude)
    pause: float = 0.0              # chance that the pen rests a moment where a stroke starts or turns sharply

    @classmethod
    def random(cls, rng: np.random.Generator, name: str, hand: str | None = None) -> "WriterStyle":
        """A random writer of ``hand`` (default: drawn with the DEFAULT_HANDS weights)."""
        if hand is None:
            hand = HANDS[int(rng.choice(len(HANDS), p=[DEFAULT_HANDS[h] for h in HANDS]))]
        if hand not in HANDS:
            raise DataError(f"unknown hand {hand!r} (expected one of {', '.join(HANDS)})")
        u = lambda a, b: float(rng.uniform(a, b))  # noqa: E731
        w = cls(name=name, hand=hand, x_height=u(20, 28), word_spacing=u(0.7, 1.2), drift=u(0.0, 1.0),
                drift_wavelength=u(80, 260), tilt=float(rng.normal(0, 0.012)), jitter=u(0.05, 0.2),
                glyph_var=u(0.015, 0.06), speed=u(0.8, 1.25), seed=int(rng.integers(2 ** 31)),
                deform=u(0.35, 0.8), letter_var=u(0.06, 0.18), slant_var=u(0.01, 0.04),
                late_marks=u(0.7, 1.0) if rng.random() < LATE_MARKS else 0.0)
        fonts = HAND_FONTS[hand]
        w.font = fonts[int(rng.integers(len(fonts)))]
        if hand == "cursive":
            w.width, w.slant = u(0.66, 0.92), float(np.clip(rng.normal(0.12, 0.16), -0.2, 0.45))
            w.letter_spacing, w.caps = u(-0.5, 1.2), "print" if rng.random() < 0.4 else "script"
            w.ascender, w.descender, w.join, w.rounding = u(0.75, 1.1), u(0.7, 1.1), 1.0, u(0.0, 0.4)
        elif hand == "script":
            w.width, w.slant = u(0.72, 0.98), float(np.clip(rng.normal(0.04, 0.1), -0.15, 0.3))
            w.letter_spacing, w.caps = u(-0.3, 1.0), "print" if rng.random() < 0.2 else "script"
            w.ascender, w.descender, w.join, w.rounding = u(0.8, 1.1), u(0.75, 1.05), u(0.6, 1.0), u(0.3, 0.9)
        elif hand == "print":
            w.width, w.slant = u(0.75, 1.05), float(np.clip(rng.normal(0.02, 0.07), -0.12, 0.18))
            w.letter_spacing, w.word_spacing, w.caps = u(0.2, 1.6), u(0.95, 1.4), "print"
            w.ascender, w.descender, w.rounding = u(0.95, 1.45), u(0.9, 1.4), u(0.0, 0.35)
            w.join, w.lift = (u(0.1, 0.35) if rng.random() < 0.4 else 0.0), u(0.1, 0.8)
            w.speed = u(0.6, 0.95)          # printing is slower than running script (short strokes, many lifts)
        else:  # italic
            w.width, w.slant = u(0.6, 0.78), u(0.2, 0.4)
            w.letter_spacing, w.caps = u(0.0, 1.0), "print"
            w.ascender, w.descender, w.rounding = u(1.0, 1.5), u(1.0, 1.5), u(1.0, 2.0)
            w.join, w.lift = u(0.35, 0.85), u(0.0, 0.25)
            w.speed = u(0.7, 1.05)
        w.speed_var, w.flutter, w.pause = u(0.15, 0.6), u(0.1, 0.45), u(0.05, 0.35)
        return w

    def to_json(self) -> dict:
        return asdict(self)


def parse_hands(spec=None) -> dict[str, float]:
    """Hand-family weights from ``None`` (DEFAULT_HANDS), ``"all"``, ``"print,cursive"`` (equal weights),
    ``"print=0.35,cursive=0.3,..."``, a list of names or a dict; normalised to sum to 1, zero weights dropped."""
    if spec is None or (isinstance(spec, str) and spec.strip().lower() in ("", "all", "default")):
        return dict(DEFAULT_HANDS)
    if isinstance(spec, str):
        items = [p.strip() for p in spec.split(",") if p.strip()]
        pairs = []
        for p in items:
            name, _, weight = p.partition("=")
            try:
                pairs.append((name.strip().lower(), float(weight) if weight.strip() else 1.0))
            except ValueError:
                raise DataError(f"bad hand weight {p!r} (expected NAME or NAME=WEIGHT)") from None
    elif isinstance(spec, dict):
        pairs = [(str(k).lower(), float(v)) for k, v in spec.items()]
    else:
        pairs = [(str(k).lower(), 1.0) for k in spec]
    out: dict[str, float] = {}
    for name, weight in pairs:
        if name not in HANDS:
            raise DataError(f"unknown hand {name!r} (expected one of {', '.join(HANDS)})")
        if not np.isfinite(weight) or weight < 0:
            raise DataError(f"hand weight for {name} must be a non-negative number, got {weight}")
        out[name] = out.get(name, 0.0) + weight
    total = sum(out.values())
    if total <= 0:
        raise DataError("the hand mix gives no family a positive weight")
    return {h: out[h] / total for h in HANDS if out.get(h, 0.0) > 0}


SHAPE_FIELDS = ("deform", "letter_var", "slant_var", "glyph_var", "jitter")   # what ``shape_var`` scales


def make_writers(n: int, seed: int = 0, hands=None, shape_var: float = 1.0,
                 word_space: float = 1.0, round_joins: float = 0.0, script_lifts: float = 0.0,
                 late_marks: float = LATE_MARKS) -> list[WriterStyle]:
    """``n`` reproducible writer styles (the same seed and hands give the same writers). The families are
    drawn in proportion to ``hands`` (see :func:`parse_hands`; default DEFAULT_HANDS): their counts are
    n * weight rounded by largest remainder, in a seeded random order. ``shape_var`` scales how far each
    writer's letters stray from the font (:data:`SHAPE_FIELDS`), and ``word_space`` every writer's space
    between words, the writers being otherwise the same. ``round_joins``: the share of the script and cursive
    writers who also join into the round letters (``join_round``); ``script_lifts``: the share of the script
    writers who lift the pen between most of their letters (``join`` 0-0.4: script letters written apart, as
    many real writers write). ``late_marks``: the share of the writers who dot their i and j and cross their t, f
    and x after the word, most of the time (``late_marks`` 0.7-1; the rest always at the letter). These are
    drawn from the writer's own seed, so the other writers, and every writer at 0 (``late_marks``: at its
    default, half of them), are the same as without them."""
    if n < 1:
        raise DataError(f"need at least one writer, got {n}")
    if not 0.0 <= shape_var <= 4.0:
        raise DataError(f"shape variation must be within 0-4, got {shape_var}")
    if not 0.25 <= word_space <= 4.0:
        raise DataError(f"word space factor must be within 0.25-4, got {word_space}")
    if not 0.0 <= round_joins <= 1.0:
        raise DataError(f"the share of writers joining round letters must be within 0-1, got {round_joins}")
    if not 0.0 <= script_lifts <= 1.0:
        raise DataError(f"the share of script writers lifting between letters must be within 0-1, got {script_lifts}")
    if not 0.0 <= late_marks <= 1.0:
        raise DataError(f"the share of writers dotting and crossing after the word must be within 0-1, got {late_marks}")
    mix = parse_hands(hands)
    names = list(mix)
    want = np.array([mix[h] * n for h in names])
    count = np.floor(want).astype(int)
    for j in np.argsort(-(want - count), kind="stable")[:n - count.sum()]:
        count[j] += 1
    rng = np.random.default_rng([seed, 0x5717E])
    order = [h for h, c in zip(names, count) for _ in range(c)]
    order = [order[j] for j in rng.permutation(n)]
    writers = [WriterStyle.random(rng, f"synth-{i:03d}", h) for i, h in enumerate(order)]
    if shape_var != 1.0:
        writers = [replace(w, **{f: getattr(w, f) * shape_var for f in SHAPE_FIELDS}) for w in writers]
    if word_space != 1.0:
        writers = [replace(w, word_spacing=w.word_spacing * word_space) for w in writers]
    if script_lifts > 0:
        writers = [replace(w, join=_script_lift(w, script_lifts)) for w in writers]
    if round_joins > 0:
        writers = [replace(w, join_round=_round_join(w, round_joins)) for w in writers]
    if late_marks != LATE_MARKS:
        writers = [replace(w, late_marks=_late_marks(w, late_marks)) for w in writers]
    return writers


def _late_marks(w: WriterStyle, share: float) -> float:
    """A writer's ``late_marks`` when ``share`` of the writers (not the half that :meth:`WriterStyle.random`
    draws) write their dots and bars after the word: below half, a late writer stays late with chance
    share / half; above, a writer at the letter becomes late with chance (share - half) / (1 - half). From the
    writer's own seed."""
    rng = np.random.default_rng([w.seed, 0x1A7E])
    keep, draw = rng.random(), float(rng.uniform(0.7, 1.0))
    if w.late_marks > 0:
        return w.late_marks if keep < share / LATE_MARKS else 0.0
    return draw if keep < (share - LATE_MARKS) / (1.0 - LATE_MARKS) else 0.0


def _script_lift(w: WriterStyle, share: float) -> float:
    """A script writer's ``join`` when ``share`` of them lift between most letters (0-0.4), else unchanged."""
    if w.hand != "script":
        return w.join
    rng = np.random.default_rng([w.seed, 0x11F7])
    return float(rng.uniform(0.0, 0.4)) if rng.random() < share else w.join


def _round_join(w: WriterStyle, share: float) -> float:
    """How often a script or cursive writer joins into its round letters: for ``share`` of them, most of the
    time (0.7-1); otherwise never (the lift the fonts' letters make). From the writer's own seed. A writer who
    lifts between most letters (``join`` under 0.5) does not."""
    if _hand_font(w) not in _SCRIPT_FONTS or w.join < 0.5:
        return 0.0
    rng = np.random.default_rng([w.seed, 0x20D])
    return float(rng.uniform(0.7, 1.0)) if rng.random() < share else 0.0


# ------------------------------------------------------------------------------------------ a line
def _smooth_noise(s: np.ndarray, rng: np.random.Generator, amp: float, wavelengths=(9.0, 17.0, 37.0)) -> np.ndarray:
    """Smooth 1-D noise along arc length s: a few sinusoids with random phases (amplitude ~amp)."""
    grid = np.arange(0.0, s[-1] + 2.0, 1.0)            # evaluate on a 1-unit grid, interpolate
    lam = np.asarray(wavelengths)[:, None] * rng.uniform(0.8, 1.25, (len(wavelengths), 1))
    a = rng.normal(0, 1, (len(wavelengths), 1))
    ph = rng.uniform(0, 2 * np.pi, (len(wavelengths), 1))
    out = (a * np.sin(2 * np.pi * grid[None] / lam + ph)).sum(0) * (amp / np.sqrt(len(wavelengths)))
    return np.interp(s, grid, out)


def _unit(*key) -> float:
    """A fixed number in [0, 1) for a key: a writer's habit for a letter or a letter pair."""
    return zlib.crc32(repr(key).encode()) / 4294967296.0


def _wave_field(p: np.ndarray, rng: np.random.Generator, amp: float, n: int = 3,
                lam: tuple[float, float] = (11.0, 28.0)) -> np.ndarray:
    """A smooth random 2-D displacement of the points p (m, 2): ``n`` plane waves of wavelengths ``lam``
    (font units) in random directions, amplitude ~``amp`` per axis."""
    ang = rng.uniform(0, 2 * np.pi, n)
    kv = (2 * np.pi / rng.uniform(*lam, n))[:, None] * np.stack([np.cos(ang), np.sin(ang)], 1)
    ph = rng.uniform(0, 2 * np.pi, (2, n))
    a = rng.normal(0, 1, (2, n)) * (amp / np.sqrt(n))
    arg = p @ kv.T
    return np.stack([(np.sin(arg + ph[0]) * a[0]).sum(1), (np.sin(arg + ph[1]) * a[1]).sum(1)], 1)


def _hand_font(w: WriterStyle) -> str:
    if w.hand not in HAND_FONTS:
        raise DataError(f"unknown hand {w.hand!r} (expected one of {', '.join(HANDS)})")
    if w.font and w.font not in _FONT_XHEIGHT:
        raise DataError(f"unknown synthetic-writer font {w.font!r} (expected one of {', '.join(_FONT_XHEIGHT)})")
    return w.font or HAND_FONTS[w.hand][0]


_WRITER_GLYPHS: dict[tuple, dict[str, _Glyph]] = {}


def _writer_glyph(w: WriterStyle, c: str, cache: dict[str, _Glyph]) -> _Glyph:
    """Character ``c`` as writer ``w`` writes it: the family's glyph (with or without lifts inside it), moved by
    the writer's smooth displacement field: a part shared by all its letters and a part of that letter's own
    (both fixed by ``w.seed``). Script joins (first and last pen point) are kept in place."""
    g = cache.get(c)
    if g is not None:
        return g
    font = _hand_font(w)
    if c in string.ascii_uppercase and w.caps == "print" and font in _SCRIPT_FONTS:
        base = _print_capitals()[c]
    else:
        raw = font not in _SCRIPT_FONTS and w.lift > 0 and _unit(w.seed, c, "lift") < w.lift
        base = _table(font, raw).get(c)
    if base is None:
        raise DataError(f"the synthetic writer cannot write {c!r}")
    if base.flat is None or w.deform <= 0:
        cache[c] = base
        return base
    p = base.flat
    own = 1.0 if c.islower() else 0.7           # capitals, digits: big, with narrow gaps (6, 8, B): a bit less
    d = (_wave_field(p, np.random.default_rng([w.seed, 0xF1E1D]), 0.5 * w.deform)
         + _wave_field(p, np.random.default_rng([w.seed, ord(c), 0xF1E1D]), own * w.deform))
    top = float(np.hypot(d[:, 0], d[:, 1]).max())
    if top > 1.6 * w.deform:                      # no absurd outliers: at most 1.6 * deform anywhere
        d *= 1.6 * w.deform / top
    if font in _SCRIPT_FONTS:
        near = np.minimum(np.hypot(*(p - base.entry).T), np.hypot(*(p - base.exit).T))
        d *= np.clip(near / 1.5, 0.0, 1.0)[:, None]
    g = cache[c] = base.deformed(p + d)
    return g


def _layout(text: str, w: WriterStyle, rng: np.random.Generator):
    """Place the glyphs: dense pen-stroke points in font units (baseline 0), their stroke ids, their
    glyph-local coordinates and letter index. Letters of a word are joined where the writer joins them:
    script fonts where the exit of one meets the entry of the next, print fonts with an upstroke from a low
    right exit to a left entry; late dots and bars are written after their word."""
    key = (w.hand, w.font, w.seed, w.deform, w.lift, w.caps)
    cache = _WRITER_GLYPHS.get(key)
    if cache is None:
        if len(_WRITER_GLYPHS) >= 512:
            _WRITER_GLYPHS.clear()
        cache = _WRITER_GLYPHS[key] = {}
    glyphs = [cache.get(c) or _writer_glyph(w, c, cache) for c in text]
    natural = _hand_font(w) in _SCRIPT_FONTS
    n = len(text)
    r = rng.normal(0, 1, (n, 4)).tolist()
    late = (rng.random(n) < w.late_marks).tolist()       # per word, drawn at its first letter
    join_d = _JOIN + w.letter_spacing + 0.6
    wid, gv, ls, always = w.width, w.glyph_var, w.letter_spacing, w.join >= 1.0
    wide = max(ls, 0.5) - ls + max(0.0, 0.85 - wid) * 4.0   # capitals and digits: never cramped
    loc, sids, lis, offs, place = [], [], [], [], []   # per piece: glyph-local points, stroke ids, letter,
    pending: list[tuple] = []                # stroke-id offset, (sx, sy, ox, oy); pending: late dots and bars
    x, prev, prevc, word_late, next_id = 0.0, None, "", False, 0
    for i, (c, g, ri) in enumerate(zip(text, glyphs, r)):
        if g.flat is None:                                  # space
            for p in pending:
                loc.append(p[0]), sids.append(p[1]), lis.append(p[2]), place.append(p[3]), offs.append(next_id)
                next_id += p[4]
            pending = []
            x += g.width * wid * w.word_spacing * (1.0 + 0.09 * ri[0])
            prev = None
            continue
        if i == 0 or text[i - 1] == " ":
            word_late = late[i]
        k = 1.0 + gv * ri[0]
        sx = k * wid
        ox, oy = x + 0.15 * ri[1], 0.12 * ri[2]
        joined = bridge = False
        if prev is not None:
            ex, ey = g.entry[0] * sx + ox, g.entry[1] * k + oy
            if natural:
                joined = math.hypot(prev[0] - ex, prev[1] - ey) <= join_d
                bridge = (not joined and w.join_round > 0 and c.islower() and prevc.islower()
                          and _unit(w.seed, prevc, c, "round") < w.join_round)
                joined = joined or bridge
            else:
                joined = prev[2] and g.join_in and -2.0 <= ex - prev[0] <= 8.0
            if joined and not always and _unit(w.seed, prevc, c) >= w.join:
                joined = False
                if natural:                                 # a lifted script join leaves a small gap
                    ox += 1.0
                    x += 1.0
        split = word_late and g.nbody < g.n
        m = g.nbody if split else g.n
        body, sid = (g.flat[:m], g.sid[:m]) if split else (g.flat, g.sid)
        if joined and (bridge or not natural):              # an upstroke from the last letter's exit
            a = loc[-1][-1]
            sa = place[-1]
            a = np.array([a[0] * sa[0] + sa[2], a[1] * sa[1] + sa[3]])
            b = np.array([body[0, 0] * sx + ox, body[0, 1] * k + oy])
            conn = _round_connector(a, b, g, sx, k, ox, oy) if bridge else _connector(a, b)
            if len(conn):                                   # in this letter's coordinates
                body = np.vstack([(conn - (ox, oy)) / (sx, k), body])
                sid = np.concatenate([np.zeros(len(conn), np.int64), sid])
        off = next_id - 1 if joined else next_id
        loc.append(body), sids.append(sid), lis.append(i), offs.append(off), place.append((sx, k, ox, oy))
        next_id = off + (g.nsb if split else g.ns)
        if split:
            pending.append((g.flat[m:], g.msid, i, (sx, k, ox, oy), g.ns - g.nsb))
        if split or g.nbody == g.n:
            prev = (g.exit[0] * sx + ox, g.exit[1] * k + oy, g.join_out)
        else:
            prev = None                                     # the pen is on a dot or a bar: lift
        prevc = c
        x += g.width * sx + ls + 0.15 * ri[3] + (wide if wide and not c.islower() else 0.0)
    for p in pending:
        loc.append(p[0]), sids.append(p[1]), lis.append(p[2]), place.append(p[3]), offs.append(next_id)
        next_id += p[4]
    if not loc:
        raise DataError(f"nothing to write in {text!r}")
    lens = [len(p) for p in loc]
    L = np.concatenate(loc)
    T = np.repeat(np.array(place), lens, axis=0)
    return (L * T[:, :2] + T[:, 2:], np.concatenate(sids) + np.repeat(offs, lens), L, np.repeat(lis, lens))


def _connector(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Points of a pen-down join from a to b (both excluded): a shallow arc bulging below / right of the
    chord, as a pen swings up out of one letter into the next."""
    v = b - a
    L = float(np.hypot(*v))
    m = int(np.ceil(L / _DENSE))
    if m < 2:
        return np.empty((0, 2))
    c = 0.5 * (a + b) + 0.18 * np.array([-v[1], v[0]])
    t = np.linspace(0.0, 1.0, m + 1)[1:-1, None]
    return (1 - t) ** 2 * a + 2 * t * (1 - t) * c + t ** 2 * b


def _round_connector(a: np.ndarray, b: np.ndarray, g: "_Glyph", sx: float, k: float, ox: float,
                     oy: float) -> np.ndarray:
    """Points of a pen-down join from a letter's exit ``a`` into a round letter that starts at ``b`` (both
    excluded): to a bowl that starts at its top right (a, c, d, g, q) the pen goes up over the top of the
    bowl and comes down onto its start, as a writer joins them (the letter then goes back over that top);
    to a letter that starts low (e) or at its top (o, w) it swings straight in."""
    x0 = float(g.flat[:, 0].min()) * sx + ox
    top = max(float(g.flat[:, 1].min()), -_XHEIGHT) * k + oy        # the bowl's top (not d's ascender)
    if b[0] - x0 < 3.0 or b[1] <= top + 1.5 or b[1] > -_XHEIGHT * 0.35:
        return _connector(a, b)
    over = np.array([x0 + 0.55 * (b[0] - x0), top - 0.3])     # above the bowl, a little right of its middle
    return np.vstack([_connector(a, over), over[None], _connector(over, b)])


def _letter_noise(L: np.ndarray, li: np.ndarray, n: int, rng: np.random.Generator, amp: float,
                  slant_var: float) -> np.ndarray:
    """Fresh variation of every written letter, in its own coordinates L (letter index li): a random smooth
    (quadratic) displacement field of amplitude ~``amp`` font units and a slant change (sd ``slant_var``)."""
    c = rng.normal(0, 1, (n, 10)) * (amp * np.array([0.6, 0.6, 0.35, 0.35, 0.35] * 2))
    c[:, 1] -= rng.normal(0, slant_var * 4.5, n)            # shear: dx = -slant * y, y scaled by 1 / 4.5
    u = (L[:, 0] - 4.0) * (1 / 4.5)
    v = np.clip((L[:, 1] + 4.5) * (1 / 4.5), -2.0, 2.0)
    B = np.stack([u, v, u * v, u * u - 0.5, v * v - 0.5], 1)
    C = c[li]
    return np.stack([(B * C[:, :5]).sum(1), (B * C[:, 5:]).sum(1)], 1)


def _densify(P: np.ndarray, sid: np.ndarray, step: float = _DENSE) -> tuple[np.ndarray, np.ndarray]:
    """Fill pen-down steps longer than 2 * step (joins between letters, bridged gaps) with points."""
    d = np.hypot(*np.diff(P, axis=0).T)
    long = (sid[1:] == sid[:-1]) & (d > 2 * step)
    if not long.any():
        return P, sid
    m = np.where(long, np.ceil(d / step), 1).astype(np.int64)
    seg = np.repeat(np.arange(len(m)), m)
    f = ((np.arange(m.sum()) - np.repeat(np.cumsum(m) - m, m)) / m[seg])[:, None]
    return np.vstack([P[seg] + (P[seg + 1] - P[seg]) * f, P[-1:]]), np.append(sid[seg], sid[-1])


def _round_corners(P: np.ndarray, sid: np.ndarray, radius: float) -> np.ndarray:
    """Round the corners of the pen path: a moving average (twice, ~``radius`` font units each side) along
    every stroke, with the window shrinking to nothing at the stroke's ends (they stay in place)."""
    h = int(round(radius / _DENSE))
    if h < 1:
        return P
    n = len(P)
    idx = np.arange(n)
    starts = np.flatnonzero(np.concatenate([[True], sid[1:] != sid[:-1]]))
    lens = np.diff(np.append(starts, n))
    s = np.repeat(starts, lens)
    e = s + np.repeat(lens, lens) - 1
    hh = np.minimum(np.minimum(h, np.repeat((lens - 1) // 6, lens)), np.minimum(idx - s, e - idx))   # (dots stay)
    for _ in range(2):
        C = np.vstack([[0.0, 0.0], np.cumsum(P, axis=0)])
        P = (C[idx + hh + 1] - C[idx - hh]) / (2 * hh + 1)[:, None]
    return P


def _time_line(P: np.ndarray, sid: np.ndarray, v0: float, hz: float, xh: float, keep_turns: bool = True,
               pace: np.ndarray | None = None, pause: float = 0.0, rng: np.random.Generator | None = None):
    """Move the pen along dense strokes and sample it at ``hz``, all strokes at once.

    The pen is fast on straight parts, slower in curves (speed ~ (1 + r*curvature)^-0.4, slowest at cusps)
    and accelerates / brakes near stroke ends; between strokes it is lifted for a time that grows with the
    distance. With ``keep_turns`` the turning points of the path are sampled too, so shapes survive low
    rates. ``pace`` (one factor per point) changes the speed further: a hand is never as regular as the
    curvature alone would make it. ``pause``: the chance that the pen rests (creeps over one dense step for
    0.3-2 sample periods) where a stroke starts and where the path turns sharply, as real pens do when they
    land and at cusps (needs ``rng``). Returns (x, y, t, stroke id) of the samples."""
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
    if pace is not None:
        v *= pace
    # time: along strokes ds / v, across pen-ups a lift time growing with the distance
    dt = np.where(same, seg / np.maximum(0.5 * (v[:-1] + v[1:]), 1e-6), 0.06 + ds / (1.4 * v0))
    if pause > 0 and rng is not None:
        at = np.zeros(n - 1, dtype=bool)
        at[starts[starts < n - 1]] = True                   # a stroke's first step
        at[1:] |= inner & (turn > 1.2)                      # the step out of a sharp turn
        at &= same
        rest = at & (rng.random(n - 1) < pause)
        dt[rest] += rng.uniform(0.3, 2.0, int(rest.sum())) / hz
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
    P, sid, L, li = _layout(text, w, rng)
    if w.letter_var > 0 or w.slant_var > 0:
        P += _letter_noise(L, li, len(text), rng, w.letter_var, w.slant_var)
    # ascender / descender proportions, rounded corners, smooth shape jitter, slant, baseline drift and tilt
    y = P[:, 1]
    P[:, 1] = np.where(y < -_XHEIGHT, -_XHEIGHT + (y + _XHEIGHT) * w.ascender,
                       np.where(y > 0, y * w.descender, y))
    if w.rounding >= 0.75 * _DENSE:
        P, sid = _densify(P, sid)
        P = _round_corners(P, sid, w.rounding)
    seg = np.hypot(*np.diff(P, axis=0).T)
    s = np.concatenate([[0.0], np.cumsum(np.minimum(seg, 2.0))])
    P[:, 0] += _smooth_noise(s, rng, w.jitter)
    P[:, 1] += _smooth_noise(s, rng, w.jitter)
    P[:, 0] -= w.slant * P[:, 1]
    phase = rng.uniform(0, 2 * np.pi)
    P[:, 1] += w.drift * np.sin(2 * np.pi * P[:, 0] / w.drift_wavelength + phase) + w.tilt * P[:, 0]
    P *= w.x_height / _XHEIGHT
    # the pen speeds up and slows down along the line, over a letter or a few: without it a model trained here
    # predicts the spacing of the points as exactly as the letters' shapes, and a real (irregular) pen costs it
    # dearly (bench/RESULTS-handwriting.md 2g)
    # and it flutters from one sample to the next and rests where it lands and at cusps (real pens do, far
    # more than the curvature alone says; bench/RESULTS-handwriting.md 2h)
    log_pace = _smooth_noise(s, rng, w.speed_var, (6.0, 13.0, 30.0)) if w.speed_var > 0 else 0.0
    if w.flutter > 0:
        log_pace = log_pace + _smooth_noise(s, rng, w.flutter, (2.5, 4.0))
    pace = np.exp(log_pace) if w.speed_var > 0 or w.flutter > 0 else None
    # ~20 x-heights per second on straight parts at speed 1
    return text, _time_line(P, sid, 20.0 * w.x_height * w.speed, hz, w.x_height, pace=pace, pause=w.pause, rng=rng)


def render_line(text: str, writer: WriterStyle | None = None, rng: np.random.Generator | None = None,
                seed: int | None = None, hz: float = SAMPLE_HZ) -> Ink:
    """One line of synthetic handwriting (y down, baseline at 0, strokes with a time channel)."""
    w = writer or WriterStyle()
    rng = rng if rng is not None else np.random.default_rng(seed)
    text, (x, y, t, sid) = _render_flat(text, w, rng, hz)
    cuts = np.flatnonzero(np.diff(sid)) + 1
    strokes = [Stroke(a, b, c) for a, b, c in zip(np.split(x, cuts), np.split(y, cuts), np.split(t, cuts))]
    return Ink(strokes, text, w.name, {"synthetic": True, "hand": w.hand})


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


def _render_chunk(job) -> list[tuple[np.ndarray, str, str, str]]:
    lines, writers, seed, start, hz = job
    out = []
    for k, text in enumerate(lines):
        i = start + k
        w = writers[i % len(writers)]
        text, (x, y, _, sid) = _render_flat(text, w, np.random.default_rng([seed, i]), hz)
        out.append((_stroke3(x, y, sid), text, w.name, w.hand))
    return out


def _source(ws: list[WriterStyle]) -> str:
    present = [h for h in HANDS if any(w.hand == h for w in ws)]
    return f"synthetic (Hershey {', '.join(present)} hand{'s' if len(present) > 1 else ''})"


def synth_dataset(lines: list[str], writers: int | list[WriterStyle] = 20, seed: int = 0, jobs: int = 1,
                  progress=None, hz: float = SAMPLE_HZ, hands=None, shape_var: float = 1.0,
                  word_space: float = 1.0, round_joins: float = 0.0, script_lifts: float = 0.0,
                  late_marks: float = LATE_MARKS) -> InkDataset:
    """Render text lines into an :class:`InkDataset` (line i by writer i mod W; split 90/5/5 by line).

    ``writers`` is a number of writers (drawn by :func:`make_writers` with the family mix ``hands``) or the
    writers themselves. Every line's meta records its writer id (``writer``) and hand family (``hand``).
    ``hz`` is the pen sampling rate: 70 gives IAM-like ~24 points per letter; lower rates give shorter
    sequences (30 Hz: ~11 per letter) for faster training. Same arguments -> the same dataset."""
    if not 5 <= hz <= 500:
        raise DataError(f"sampling rate must be within 5-500 Hz, got {hz}")
    ws = (make_writers(writers, seed, hands, shape_var, word_space, round_joins, script_lifts, late_marks)
          if isinstance(writers, int) else list(writers))
    for w in ws:
        _hand_font(w)
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
    ink_lines = [InkLine(pts, text, wname, _split(i), f"synth-{i:06d}", {"hand": hand})
                 for i, (pts, text, wname, hand) in enumerate(results)]
    hands_count = {h: sum(w.hand == h for w in ws) for h in HANDS if any(w.hand == h for w in ws)}
    return InkDataset.from_lines(ink_lines, source=_source(ws),
                                 extra={"units": "synthetic", "seed": seed, "sample_hz": hz, "hands": hands_count,
                                        "writers": [w.to_json() for w in ws]})


def synth_corpus(corpus: str, n_lines: int, writers: int | list[WriterStyle] = 20, seed: int = 0,
                 mix: float = 0.2, min_chars: int = 20, max_chars: int = 50, jobs: int = 1,
                 progress=None, hz: float = SAMPLE_HZ, caps: float = 0.0, hands=None,
                 shape_var: float = 1.0, word_space: float = 1.0, round_joins: float = 0.0,
                 script_lifts: float = 0.0, late_marks: float = LATE_MARKS) -> InkDataset:
    """Cut ``n_lines`` lines from a corpus text and render them (see :func:`corpus_lines`) by ``writers``
    writers of the hand-family mix ``hands``, shape variation ``shape_var``, word space factor ``word_space``
    and the shares of joiners into round letters ``round_joins`` and of script writers lifting between letters
    ``script_lifts`` and of writers dotting and crossing after the word ``late_marks`` (see :func:`make_writers`)."""
    return synth_dataset(corpus_lines(corpus, n_lines, seed, min_chars, max_chars, mix, caps), writers, seed, jobs,
                         progress, hz, hands, shape_var, word_space, round_joins, script_lifts, late_marks)

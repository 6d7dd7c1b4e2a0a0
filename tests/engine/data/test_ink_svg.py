"""SVG rendering: valid XML, one smooth path per stroke, a viewBox that fits the ink."""

import re

import defusedxml.ElementTree as DET
import numpy as np

from engine.data.ink import Ink, Stroke
from engine.data.svg import ink_to_svg, inks_to_svg, smooth_path_d

SVG = "{http://www.w3.org/2000/svg}"


def _ink():
    t = np.linspace(0, 1, 30)
    return Ink([Stroke(100 + 40 * np.cos(6 * t), 50 + 20 * np.sin(6 * t), t),
                Stroke([300, 310, 330], [60, 40, 90], [1.2, 1.21, 1.22]),
                Stroke([400], [70])], text="a < b & c")


def _path_points(d):
    nums = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", d)]
    return np.array(nums[: len(nums) // 2 * 2]).reshape(-1, 2)


def test_one_path_per_stroke_and_viewbox_fits():
    ink = _ink()
    svg = ink_to_svg(ink, stroke_width=3, color="#123456", background="white", title=ink.text)
    root = DET.fromstring(svg)
    assert root.tag == SVG + "svg"
    paths = root.findall(f".//{SVG}path")
    assert len(paths) == 3
    assert root.find(f"{SVG}title").text == "a < b & c"
    vx, vy, vw, vh = map(float, root.get("viewBox").split())
    x0, y0, x1, y1 = ink.bounds()
    assert vw > x1 - x0 and vh > y1 - y0
    for p in paths:
        pts = _path_points(p.get("d"))
        assert np.all(pts[:, 0] >= vx) and np.all(pts[:, 0] <= vx + vw)
        assert np.all(pts[:, 1] >= vy) and np.all(pts[:, 1] <= vy + vh)
    assert "C" in paths[0].get("d")                      # a smooth curve, not a polyline
    g = root.find(f"{SVG}g")
    assert g.get("stroke") == "#123456" and g.get("stroke-width") == "3"


def test_path_passes_through_the_points():
    xy = np.array([[0, 0], [10, 5], [20, 0], [30, 8]], float)
    d = smooth_path_d(xy)
    assert d.startswith("M0 0") and d.count("C") == 3
    ends = [tuple(map(float, seg.split()[-2:])) for seg in d.split("C")[1:]]
    assert ends == [(10, 5), (20, 0), (30, 8)]


def test_stroke3_input_and_y_down():
    s3 = np.array([[0, 0, 0], [10, 10, 0], [10, 10, 1], [5, -30, 1]], np.float32)
    root = DET.fromstring(ink_to_svg(s3, padding=0))
    assert len(root.findall(f".//{SVG}path")) == 2
    first = _path_points(root.findall(f".//{SVG}path")[0].get("d"))
    assert first[0, 1] < first[-1, 1]                     # the first stroke goes down the page


def test_variable_width_and_stacking():
    svg = ink_to_svg(_ink(), variable_width=True)
    root = DET.fromstring(svg)
    paths = root.findall(f".//{SVG}path")
    assert len(paths) == 3
    assert paths[0].get("fill") not in (None, "none")     # an outline, filled
    two = DET.fromstring(inks_to_svg([_ink(), _ink()]))
    assert len(two.findall(f".//{SVG}path")) == 6
    assert float(two.get("viewBox").split()[3]) > 2 * float(root.get("viewBox").split()[3]) * 0.9

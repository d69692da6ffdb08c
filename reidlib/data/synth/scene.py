"""Camera scenes: a long strip of street (or campus, or mall) that people walk along.

Each camera sees a *panorama*: a wall with its texture at the back, a ground
plane in perspective in front of it, and objects standing between them. A
person is composited at some scene position ``x`` (pixels along the strip)
on the walking line, and the crop around them takes whatever background is
there. Three layers:

* the **world** (:class:`World`): landmarks (trees, parked cars, shop signs,
  notice boards, ...) at fixed positions along the strip, the same in every
  camera of a dataset. A person who keeps walking at the same position
  (``bg_share`` near 1) is seen in front of the same landmarks in every camera,
  the cross-camera background bias of real data.
* the camera's own **background** (:func:`render_scene`): wall and ground
  textures, wall height, perspective, clutter and cast shadows, different
  per camera.
* the camera's **front layer**: objects between the camera and the walking
  line (poles, bollards, benches, bikes) with an alpha channel; they occlude
  the person's lower body or one side.

A scene *family* fixes which walls, grounds, landmarks and occluders exist:
``A`` campus (tiles, plaster, trees), ``B`` street (asphalt, brick, cars,
shop fronts), ``C`` indoor mall (polished floors, glass, kiosks). The families
share no texture or landmark kind, and their worlds come from different
seeds, so datasets of different families have no scene in common.

Scale: ``unit`` is the output image height in pixels (128 at Market size);
a standing person is about 0.8 unit tall on the walking line.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from .textures import cell_hash, coverage, value_noise

Colour = tuple[float, float, float]


@dataclass(frozen=True)
class Family:
    """What a scene family is made of."""

    walls: tuple[str, ...]
    grounds: tuple[str, ...]
    landmarks: tuple[str, ...]
    occluders: tuple[str, ...]
    light: tuple[float, float]  # range of the probability that a camera has sun and cast shadows


FAMILIES: dict[str, Family] = {
    "A": Family(walls=("plaster", "concrete", "railing", "hedge"), grounds=("tiles", "pavers", "slabs"),
                landmarks=("tree", "planter", "pillar", "notice_board", "bench", "doorway", "bike_rack"),
                occluders=("pole", "bollard", "bench_front", "railing_front", "planter_front"), light=(0.2, 0.5)),
    "B": Family(walls=("brick", "shopfront", "stone", "shutters"), grounds=("asphalt", "cobbles", "sidewalk"),
                landmarks=("car", "shop_sign", "lamp_post", "bin", "poster", "door", "awning"),
                occluders=("street_pole", "bin_front", "bike", "hydrant"), light=(0.5, 0.9)),
    "C": Family(walls=("glass", "panels", "wall_tiles"), grounds=("polished", "terrazzo", "carpet"),
                landmarks=("shop_window", "column", "kiosk", "plant_pot", "sign_board", "vending"),
                occluders=("column_front", "barrier", "plant_front", "trolley"), light=(0.0, 0.1)),
}
# Landmarks drawn flat on the wall rather than standing on the ground.
ON_WALL = {"doorway", "shop_sign", "poster", "door", "awning", "shop_window", "vending"}


def stable_seed(*parts: object) -> int:
    """A stable 32-bit seed from strings and numbers (Python's hash() is salted per process)."""
    return zlib.crc32("/".join(map(str, parts)).encode())


@dataclass(frozen=True)
class Landmark:
    """A world object: ``kind`` at strip position ``x`` (left edge, px), ``width`` in units, ``depth``
    0 (at the wall) .. 1 (near the walking line), with its colours and a seed for its details."""

    kind: str
    x: float
    width: float
    depth: float
    colours: tuple[Colour, ...]
    seed: int


@dataclass(frozen=True)
class World:
    """The landmarks along a strip ``length`` px long, shared by all cameras of a dataset."""

    family: str
    seed: int
    length: int
    landmarks: tuple[Landmark, ...]
    walls: tuple[str, ...]  # the wall and ground materials of this world (a subset of the family's)
    grounds: tuple[str, ...]

    @property
    def world_id(self) -> str:
        return f"{self.family}-{self.seed}"


@dataclass
class Scene:
    """What one camera sees, at render scale.

    background: (H, L, 3) float32 panorama.
    front_rgb, front_alpha: (H, L, 3) premultiplied colour and (H, L) alpha of the occluding front layer.
    foot_y: the walking line (y of a person's feet at depth 1).
    """

    camera: int
    scene_id: str
    wall: str
    ground: str
    sunny: bool
    wall_base: int
    foot_y: float
    background: np.ndarray
    front_rgb: np.ndarray
    front_alpha: np.ndarray
    meta: dict = field(default_factory=dict)


def street_grade(rgb: np.ndarray) -> np.ndarray:
    """Renderer 2's grade of a scene's (..., 3) colours towards a city street's palette.

    Real crops' saturated hues are mostly red, orange and skin (Market-1501's), where renderer 1's scenes
    add bright greens and blues (hedges, trees, glass). Colour in excess of the other two channels is
    pulled towards them (greens by 60 %, blues by 35 %) and the light is a little warmer.
    Premultiplied colours stay premultiplied (the grade is linear within each hue range).
    """
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    out = rgb.copy()
    out[..., 1] -= 0.6 * np.maximum(g - np.maximum(r, b), 0.0)
    out[..., 2] -= 0.35 * np.maximum(b - np.maximum(r, g), 0.0)
    out *= np.asarray([1.04, 1.0, 0.95], np.float32)
    return np.clip(out, 0.0, None).astype(np.float32)


# Palettes ------------------------------------------------------------------

def _jitter(rng: np.random.Generator, base: Colour, amount: float = 0.06) -> Colour:
    c = np.asarray(base) * rng.uniform(1 - amount, 1 + amount) + rng.normal(0, amount / 3, 3)
    return tuple(float(v) for v in np.clip(c, 0.02, 0.98))


CAR_COLOURS = ((0.85, 0.85, 0.83), (0.6, 0.61, 0.62), (0.1, 0.1, 0.11), (0.55, 0.1, 0.1), (0.15, 0.22, 0.42),
               (0.35, 0.35, 0.33))
SIGN_COLOURS = ((0.8, 0.15, 0.12), (0.1, 0.35, 0.7), (0.95, 0.75, 0.15), (0.15, 0.5, 0.25), (0.9, 0.9, 0.88),
                (0.5, 0.2, 0.5), (0.95, 0.45, 0.1))
GREENS = ((0.2, 0.33, 0.15), (0.27, 0.4, 0.18), (0.16, 0.27, 0.14), (0.33, 0.42, 0.2))
NEUTRALS = ((0.75, 0.74, 0.7), (0.55, 0.55, 0.53), (0.35, 0.35, 0.34), (0.45, 0.35, 0.25), (0.2, 0.2, 0.21))


def build_world(family: str, seed: int, length: int, unit: int) -> World:
    """Landmarks placed along a strip ``length`` px long with gaps, each with colours drawn for this world.

    ``unit`` is the output image height in pixels (landmark sizes are in units).
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown scene family {family!r}; choose one of {', '.join(FAMILIES)}")
    fam = FAMILIES[family]
    rng = np.random.default_rng(stable_seed("world", family, seed))
    marks, x = [], float(rng.uniform(0, 0.5)) * unit
    while True:
        kind = str(rng.choice(fam.landmarks))
        width = {"car": rng.uniform(1.5, 2.0), "shop_window": rng.uniform(1.0, 2.0), "shop_sign": rng.uniform(0.8, 1.6),
                 "awning": rng.uniform(0.8, 1.5), "bench": rng.uniform(0.5, 0.8), "bike_rack": rng.uniform(0.7, 1.2),
                 "kiosk": rng.uniform(0.7, 1.0), "tree": rng.uniform(0.6, 0.9), "planter": rng.uniform(0.5, 0.9),
                 }.get(kind, rng.uniform(0.25, 0.5))
        if x + width * unit > length:
            break
        depth = 0.0 if kind in ON_WALL else float(rng.uniform(0.0, 0.6))
        pal = {"car": CAR_COLOURS, "tree": GREENS, "planter": GREENS, "plant_pot": GREENS}.get(kind, SIGN_COLOURS)
        colours = (_jitter(rng, pal[rng.integers(len(pal))]), _jitter(rng, NEUTRALS[rng.integers(len(NEUTRALS))]),
                   _jitter(rng, SIGN_COLOURS[rng.integers(len(SIGN_COLOURS))]))
        marks.append(Landmark(kind, x, float(width), depth, colours, int(rng.integers(2**31))))
        x += (width + float(rng.exponential(0.2))) * unit
    walls = tuple(sorted(str(w) for w in rng.choice(fam.walls, 2, replace=False)))
    grounds = tuple(sorted(str(g) for g in rng.choice(fam.grounds, int(rng.integers(1, 3)), replace=False)))
    return World(family, seed, length, tuple(marks), walls, grounds)


# Drawing helpers -------------------------------------------------------------

class _Layer:
    """An RGB image, optionally with alpha (then colour is premultiplied), with anti-aliased shapes."""

    def __init__(self, height: int, width: int, with_alpha: bool):
        self.rgb = np.zeros((height, width, 3), np.float32)
        self.alpha = np.zeros((height, width), np.float32) if with_alpha else None
        self.h, self.w = height, width

    def _put(self, y0: int, x0: int, a: np.ndarray, colour) -> None:
        h, w = a.shape
        ya, xa, yb, xb = max(0, -y0), max(0, -x0), min(h, self.h - y0), min(w, self.w - x0)
        if ya >= yb or xa >= xb:
            return
        a = a[ya:yb, xa:xb]
        col = np.asarray(colour, np.float32)
        if col.ndim == 3:
            col = col[ya:yb, xa:xb]
        sl = (slice(y0 + ya, y0 + yb), slice(x0 + xa, x0 + xb))
        self.rgb[sl] = self.rgb[sl] * (1 - a[..., None]) + col * a[..., None]
        if self.alpha is not None:
            self.alpha[sl] = self.alpha[sl] + a * (1 - self.alpha[sl])

    def rect(self, x0: float, y0: float, x1: float, y1: float, colour, shade: float = 0.0) -> None:
        """A filled rectangle with fractional, anti-aliased edges; ``shade`` darkens its right side."""
        if x1 <= x0 or y1 <= y0:
            return
        c0, r0 = int(np.floor(x0)), int(np.floor(y0))
        xs = np.arange(c0, int(np.ceil(x1)) + 1, dtype=np.float32) + 0.5
        ys = np.arange(r0, int(np.ceil(y1)) + 1, dtype=np.float32) + 0.5
        cx = np.clip(np.minimum(xs - x0, x1 - xs) + 0.5, 0, 1)
        cy = np.clip(np.minimum(ys - y0, y1 - ys) + 0.5, 0, 1)
        a = cy[:, None] * cx[None, :]
        col = np.asarray(colour, np.float32)
        if shade:
            t = (xs - x0) / max(x1 - x0, 1e-3)
            col = col[None, None, :] * (1.0 - shade * t)[None, :, None] * np.ones((len(ys), 1, 1), np.float32)
        self._put(r0, c0, a, col)

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, colour, shade: float = 0.0) -> None:
        """A filled ellipse; ``shade`` darkens its lower right."""
        hw, hh = int(np.ceil(rx)) + 1, int(np.ceil(ry)) + 1
        c0, r0 = int(np.floor(cx)) - hw, int(np.floor(cy)) - hh
        xs = np.arange(c0, c0 + 2 * hw + 2, dtype=np.float32)[None, :] + 0.5 - cx
        ys = np.arange(r0, r0 + 2 * hh + 2, dtype=np.float32)[:, None] + 0.5 - cy
        n = np.sqrt((xs / rx) ** 2 + (ys / ry) ** 2)
        a = coverage((n - 1.0) * min(rx, ry))
        col = np.asarray(colour, np.float32)
        if shade:
            col = col * (1.0 - shade * np.clip(0.5 + 0.35 * (xs / rx + ys / ry), 0, 1))[..., None]
        self._put(r0, c0, a, col)

    def line(self, x0: float, y0: float, x1: float, y1: float, width: float, colour) -> None:
        """A straight stroke ``width`` px wide."""
        r = width / 2
        c0, r0 = int(np.floor(min(x0, x1) - r)) - 1, int(np.floor(min(y0, y1) - r)) - 1
        c1, r1 = int(np.ceil(max(x0, x1) + r)) + 2, int(np.ceil(max(y0, y1) + r)) + 2
        xs = np.arange(c0, c1, dtype=np.float32)[None, :] + 0.5
        ys = np.arange(r0, r1, dtype=np.float32)[:, None] + 0.5
        bx, by = x1 - x0, y1 - y0
        t = np.clip(((xs - x0) * bx + (ys - y0) * by) / max(bx * bx + by * by, 1e-6), 0, 1)
        d = np.hypot(xs - x0 - bx * t, ys - y0 - by * t) - r
        self._put(r0, c0, coverage(d), colour)

    def ring(self, cx: float, cy: float, r: float, width: float, colour) -> None:
        """A circle outline (a wheel)."""
        hw = int(np.ceil(r + width)) + 1
        c0, r0 = int(np.floor(cx)) - hw, int(np.floor(cy)) - hw
        xs = np.arange(c0, c0 + 2 * hw + 2, dtype=np.float32)[None, :] + 0.5 - cx
        ys = np.arange(r0, r0 + 2 * hw + 2, dtype=np.float32)[:, None] + 0.5 - cy
        self._put(r0, c0, coverage(np.abs(np.hypot(xs, ys) - r) - width / 2), colour)


# Walls and grounds -------------------------------------------------------------

def _wall(kind: str, mat: np.random.Generator, rng: np.random.Generator, h: int, L: int, u: float) -> np.ndarray:
    """(h, L, 3) wall texture; ``u`` is the unit length in pixels.

    ``mat`` draws the material (colours, sizes: the same in every camera of a
    world), ``rng`` its stains and grain (different per camera).
    """
    x = np.arange(L, dtype=np.float32)[None, :]
    y = np.arange(h, dtype=np.float32)[:, None]
    stains = value_noise(rng, h, L, u * 0.4)[..., None] * 0.03 + value_noise(rng, h, L, 2.0)[..., None] * 0.015
    if kind in ("plaster", "railing", "hedge"):
        base = np.asarray(_jitter(mat, (0.80, 0.80, 0.77), 0.05), np.float32)
        img = base * (1 + stains)
        if kind == "railing":  # horizontal steel bars in front of a light wall, each with a soft shadow below
            for k in range(int(mat.integers(2, 4))):
                yb = h - (0.18 + 0.22 * k) * u
                img *= 1 - 0.25 * coverage(np.abs(y - yb - 0.03 * u) - 0.025 * u)[..., None]
                bar = coverage(np.abs(y - yb) - 0.012 * u)[..., None]
                img = img * (1 - bar) + bar * 0.92
            posts = coverage(np.abs(((x + 0.5 * u) % (0.9 * u)) - 0.45 * u) - 0.015 * u)[..., None]
            img = img * (1 - posts * (y > h - 0.7 * u)[..., None]) + posts * 0.85 * (y > h - 0.7 * u)[..., None]
        if kind == "hedge":  # a band of bushes along the bottom of the wall
            top = h - u * (0.25 + 0.08 * value_noise(rng, 1, L, u * 0.3))
            leaf = np.asarray(GREENS[mat.integers(len(GREENS))], np.float32)
            m = coverage(top - y)[..., None]
            img = img * (1 - m) + m * leaf * (1 + 0.25 * value_noise(rng, h, L, 2.5)[..., None])
        return img
    if kind == "concrete":
        base = np.asarray(_jitter(mat, (0.58, 0.58, 0.56), 0.06), np.float32)
        pw, ph = u * mat.uniform(0.8, 1.4), u * mat.uniform(0.35, 0.6)
        seams = np.maximum(coverage(np.abs((x % pw) - pw / 2) - (pw / 2 - 0.8)),
                           coverage(np.abs(((h - y) % ph) - ph / 2) - (ph / 2 - 0.8)))
        return base * (1 + 2 * stains) * (1 - 0.18 * seams[..., None])
    if kind in ("brick", "stone", "wall_tiles"):
        bw, bh, base, mortar = {"brick": (0.22, 0.075, (0.5, 0.33, 0.27), (0.66, 0.64, 0.6)),
                                "stone": (0.5, 0.22, (0.72, 0.66, 0.55), (0.55, 0.5, 0.42)),
                                "wall_tiles": (0.12, 0.12, (0.86, 0.86, 0.84), (0.6, 0.6, 0.6))}[kind]
        bw, bh = bw * u, bh * u
        row = np.floor((h - y) / bh)
        xx = x + (row % 2) * bw / 2
        col_i = np.floor(xx / bw)
        var = cell_hash(col_i.astype(np.int64), row.astype(np.int64), 7)[..., None]
        brick = np.asarray(_jitter(mat, base), np.float32) * (0.85 + 0.3 * var)
        joint = np.maximum(coverage(np.abs((xx % bw) - bw / 2) - (bw / 2 - 0.7)),
                           coverage(np.abs(((h - y) % bh) - bh / 2) - (bh / 2 - 0.7)))[..., None]
        img = brick * (1 - joint) + np.asarray(mortar, np.float32) * joint
        return img * (1 + stains)
    if kind in ("shopfront", "glass", "shutters", "panels"):
        pw = u * mat.uniform(0.5, 0.9)
        frame = coverage(np.abs((x % pw) - pw / 2) - (pw / 2 - 0.02 * u))[..., None]
        if kind == "glass":  # dark reflective panes with a vertical sheen
            pane = np.asarray(_jitter(mat, (0.28, 0.33, 0.36)), np.float32) * (
                1 + 0.35 * np.sin(x / pw * 2.1 + y / h)[..., None] + stains * 4)
            return pane * (1 - frame) + frame * np.asarray(_jitter(mat, (0.7, 0.7, 0.72)), np.float32)
        if kind == "panels":
            pane = np.asarray(_jitter(mat, (0.85, 0.83, 0.78)), np.float32) * (1 + stains)
            return pane * (1 - 0.3 * frame)
        if kind == "shutters":
            slats = 0.9 + 0.1 * np.sin((h - y) / (0.03 * u) * 2 * np.pi)[..., None]
            base = np.asarray(_jitter(mat, NEUTRALS[mat.integers(3)]), np.float32)
            return base * slats * (1 + 2 * stains) * (1 - 0.3 * frame)
        # shopfront: windows on the lower part, a fascia band above
        window = np.asarray(_jitter(mat, (0.22, 0.24, 0.26)), np.float32)
        window = window * (1 + 0.25 * value_noise(rng, h, L, u * 0.2)[..., None])
        fascia = np.asarray(_jitter(mat, NEUTRALS[mat.integers(len(NEUTRALS))]), np.float32)
        upper = (y < h - 0.75 * u)[..., None]
        img = np.where(upper, fascia * (1 + stains), window)
        return img * (1 - 0.6 * frame)
    raise ValueError(f"unknown wall {kind!r}")


def _ground(kind: str, mat: np.random.Generator, rng: np.random.Generator, top: int, bottom: int, L: int,
            horizon: float, foot_y: float, u: float) -> np.ndarray:
    """(bottom - top, L, 3) ground in perspective: texture scale grows towards the camera (down).

    ``mat`` draws the material, ``rng`` the grain (see :func:`_wall`).
    """
    y = np.arange(top, bottom, dtype=np.float32)[:, None] + 0.5
    x = np.arange(L, dtype=np.float32)[None, :] + 0.5
    q = y - horizon  # > 0: distance below the horizon
    qf = foot_y - horizon
    f = 1.6 * u  # focal length
    tw = u * {"tiles": 0.16, "pavers": 0.14, "slabs": 0.55, "asphalt": 0.6, "cobbles": 0.08, "sidewalk": 0.45,
              "polished": 0.5, "terrazzo": 0.6, "carpet": 0.5}[kind] * mat.uniform(0.85, 1.15)
    uu = x * (qf / q) / tw  # tile coordinates across
    c = qf * f / tw
    vv = c / q  # tile coordinates in depth
    px_u, px_v = tw * q / qf, q * q / c  # pixels per tile, across and in depth
    base = {"tiles": (0.62, 0.62, 0.6), "pavers": (0.56, 0.52, 0.49), "slabs": (0.66, 0.65, 0.62),
            "asphalt": (0.3, 0.3, 0.31), "cobbles": (0.46, 0.44, 0.42), "sidewalk": (0.6, 0.59, 0.57),
            "polished": (0.78, 0.74, 0.66), "terrazzo": (0.7, 0.68, 0.64), "carpet": (0.38, 0.35, 0.33)}[kind]
    base = np.asarray(_jitter(mat, base, 0.07), np.float32)
    grain = value_noise(rng, bottom - top, L, 1.5)[..., None]
    if kind == "pavers":
        uu = uu / 2 + 0.5 * (np.floor(vv) % 2)
    iu, iv = np.floor(uu), np.floor(vv)
    var = cell_hash(iu.astype(np.int64), iv.astype(np.int64), 3)[..., None] - 0.5
    spread = {"cobbles": 0.35, "pavers": 0.2, "tiles": 0.08, "slabs": 0.1, "sidewalk": 0.08, "polished": 0.05,
              "terrazzo": 0.04, "asphalt": 0.0, "carpet": 0.0}[kind]
    img = base * (1 + spread * var + 0.07 * grain)
    if kind in ("asphalt", "carpet", "terrazzo"):
        img = img * (1 + 0.08 * value_noise(rng, bottom - top, L, 1.2)[..., None])
        if kind == "asphalt" and mat.random() < 0.6:  # a painted line along the road
            v0 = mat.uniform(0.8, 2.5) * vv.min()
            line = coverage(np.abs(vv - v0) * px_v - 0.04 * u * q / qf)
            img = img * (1 - line[..., None]) + line[..., None] * np.asarray((0.85, 0.82, 0.6), np.float32)
        if kind == "terrazzo":
            img = img * (1 - 0.3 * (value_noise(rng, bottom - top, L, 0.8) > 1.6)[..., None])
        return img
    joint_w = 0.7 if kind != "cobbles" else 1.0
    du = np.abs(uu - np.round(uu)) * px_u
    dv = np.abs(vv - np.round(vv)) * px_v
    joint = np.maximum(coverage(du - joint_w * q / qf), coverage(dv - joint_w * q / qf))
    img = img * (1 - 0.4 * joint[..., None])
    if kind == "polished":  # a soft reflection band
        img = img * (1 + 0.12 * np.exp(-((y - top) / (0.15 * u)) ** 2))[..., None]
    if kind == "sidewalk":  # a kerb line at the near edge
        ky = top + (bottom - top) * mat.uniform(0.85, 1.2)
        img = img * (1 - 0.35 * coverage(np.abs(y - ky) - 0.02 * u))[..., None]
    return img


# Landmarks and occluders -------------------------------------------------------------

def _draw_object(layer: _Layer, kind: str, x: float, base: float, u: float, colours: tuple, rng, width: float,
                 wall_top: float) -> None:
    """Draw one object of ``kind`` standing on ``base`` (px), left edge ``x``, ``width`` in units of ``u`` px."""
    c0, c1, c2 = (np.asarray(c, np.float32) for c in colours)
    w = width * u
    dark = np.asarray((0.08, 0.08, 0.09), np.float32)
    if kind == "tree":
        cx = x + w / 2
        layer.rect(cx - 0.03 * u, base - 0.55 * u, cx + 0.03 * u, base, (0.28, 0.2, 0.14), shade=0.3)
        for _ in range(6):
            layer.ellipse(cx + rng.normal(0, w * 0.2), base - u * rng.uniform(0.6, 1.0), w * rng.uniform(0.25, 0.4),
                          u * rng.uniform(0.18, 0.3), c0 * rng.uniform(0.8, 1.15), shade=0.35)
    elif kind in ("planter", "planter_front", "plant_pot", "plant_front"):
        hgt = 0.2 * u if kind.startswith("planter") else 0.25 * u
        pw = w if kind.startswith("planter") else min(w, 0.3 * u)
        layer.rect(x, base - hgt, x + pw, base, c1, shade=0.2)
        for _ in range(4):
            layer.ellipse(x + pw * rng.uniform(0.15, 0.85), base - hgt - 0.08 * u, pw * 0.28, 0.12 * u, GREENS[0],
                          shade=0.4)
    elif kind in ("pillar", "column", "column_front"):
        layer.rect(x, 0, x + w, base, c1 * 0.3 + 0.6, shade=0.35)
    elif kind == "notice_board":
        layer.rect(x + 0.05 * w, base - 0.4 * u, x + 0.09 * w, base, dark)
        layer.rect(x + 0.91 * w, base - 0.4 * u, x + 0.95 * w, base, dark)
        layer.rect(x, base - 0.75 * u, x + w, base - 0.38 * u, c1)
        for _ in range(4):
            px0 = x + rng.uniform(0.05, 0.7) * w
            layer.rect(px0, base - u * rng.uniform(0.6, 0.72), px0 + 0.22 * w, base - 0.42 * u,
                       SIGN_COLOURS[rng.integers(len(SIGN_COLOURS))])
    elif kind in ("bench", "bench_front"):
        layer.rect(x, base - 0.22 * u, x + w, base - 0.18 * u, c1 * 0.6)
        layer.rect(x, base - 0.4 * u, x + w, base - 0.3 * u, c1 * 0.55)
        for t in (0.08, 0.88):
            layer.rect(x + t * w, base - 0.22 * u, x + t * w + 0.03 * u, base, dark)
    elif kind in ("doorway", "door"):
        col = dark * 1.5 if kind == "doorway" else c1 * 0.7
        layer.rect(x, base - 0.95 * u, x + w, base, col, shade=0.2)
        layer.rect(x - 0.02 * u, base - 0.98 * u, x + w + 0.02 * u, base - 0.95 * u, c1)
    elif kind in ("bike_rack", "bike"):
        n = max(1, int(w / (0.35 * u)))
        for i in range(n):
            bx = x + i * 0.35 * u
            for wx in (0.08, 0.32):
                layer.ring(bx + wx * u, base - 0.1 * u, 0.09 * u, 0.018 * u, dark)
            layer.line(bx + 0.08 * u, base - 0.1 * u, bx + 0.2 * u, base - 0.25 * u, 0.02 * u, c0)
            layer.line(bx + 0.2 * u, base - 0.25 * u, bx + 0.32 * u, base - 0.1 * u, 0.02 * u, c0)
    elif kind == "car":
        layer.rect(x, base - 0.42 * u, x + w, base - 0.1 * u, c0, shade=0.25)
        layer.rect(x + 0.2 * w, base - 0.62 * u, x + 0.78 * w, base - 0.4 * u, c0 * 0.95)
        layer.rect(x + 0.24 * w, base - 0.58 * u, x + 0.74 * w, base - 0.43 * u, (0.15, 0.18, 0.2))
        for t in (0.2, 0.8):
            layer.ellipse(x + t * w, base - 0.1 * u, 0.1 * u, 0.1 * u, dark)
    elif kind == "shop_sign":
        layer.rect(x, wall_top + 0.05 * u, x + w, wall_top + 0.25 * u, c0)
        for i in range(int(w / (0.12 * u))):
            layer.rect(x + (0.1 + i * 0.12) * u, wall_top + 0.11 * u, x + (0.17 + i * 0.12) * u, wall_top + 0.19 * u,
                       c2 * 0.3 + 0.7)
        layer.rect(x + 0.05 * w, base - 0.7 * u, x + 0.95 * w, base - 0.05 * u, (0.2, 0.22, 0.24))
    elif kind in ("lamp_post", "street_pole"):
        layer.rect(x, 0, x + 0.04 * u, base, (0.22, 0.24, 0.24), shade=0.4)
        if kind == "lamp_post":
            layer.rect(x - 0.08 * u, max(0.0, base - 1.35 * u), x + 0.12 * u, max(2.0, base - 1.3 * u), (0.3, 0.3, 0.3))
        else:
            layer.rect(x - 0.06 * u, base - 0.9 * u, x + 0.1 * u, base - 0.75 * u, c0)
    elif kind in ("bin", "bin_front"):
        layer.rect(x, base - 0.32 * u, x + 0.22 * u, base, c1 * 0.6 + c0 * 0.2, shade=0.3)
        layer.rect(x - 0.01 * u, base - 0.34 * u, x + 0.23 * u, base - 0.3 * u, dark)
    elif kind == "poster":
        layer.rect(x, base - 0.75 * u, x + w, base - 0.3 * u, c0)
        layer.rect(x + 0.1 * w, base - 0.7 * u, x + 0.9 * w, base - 0.5 * u, c2)
    elif kind == "awning":
        stripes = int(max(2, w / (0.08 * u)))
        for i in range(stripes):
            layer.rect(x + i * w / stripes, wall_top, x + (i + 1) * w / stripes, wall_top + 0.2 * u,
                       c0 if i % 2 else c0 * 0.3 + 0.65)
    elif kind == "shop_window":
        layer.rect(x, base - 0.85 * u, x + w, base - 0.05 * u, c1 * 0.4 + 0.5)
        for _ in range(5):
            layer.ellipse(x + rng.uniform(0.1, 0.9) * w, base - u * rng.uniform(0.2, 0.6), 0.06 * u, 0.1 * u,
                          SIGN_COLOURS[rng.integers(len(SIGN_COLOURS))], shade=0.3)
        layer.rect(x, base - 1.0 * u, x + w, base - 0.88 * u, c0)
    elif kind == "kiosk":
        layer.rect(x, base - 0.55 * u, x + w, base, c0, shade=0.2)
        layer.rect(x + 0.1 * w, base - 0.5 * u, x + 0.9 * w, base - 0.3 * u, c2 * 0.5 + 0.45)
    elif kind == "sign_board":
        layer.line(x, base, x + 0.12 * u, base - 0.4 * u, 0.02 * u, dark)
        layer.line(x + 0.24 * u, base, x + 0.12 * u, base - 0.4 * u, 0.02 * u, dark)
        layer.rect(x + 0.02 * u, base - 0.36 * u, x + 0.22 * u, base - 0.12 * u, c0)
    elif kind == "vending":
        layer.rect(x, base - 0.85 * u, x + 0.35 * u, base, c0, shade=0.2)
        layer.rect(x + 0.04 * u, base - 0.78 * u, x + 0.24 * u, base - 0.35 * u, (0.8, 0.85, 0.9))
    elif kind == "pole":
        layer.rect(x, 0, x + 0.05 * u, base, (0.5, 0.5, 0.5), shade=0.5)
    elif kind == "bollard":
        layer.rect(x, base - 0.38 * u, x + 0.08 * u, base, c1, shade=0.4)
    elif kind in ("railing_front", "barrier"):
        for t in (0.3, 0.55):
            bar = (0.6, 0.6, 0.62) if kind == "railing_front" else c0
            layer.rect(x, base - t * u, x + w, base - t * u + 0.03 * u, bar)
        for i in range(int(w / (0.4 * u)) + 1):
            layer.rect(x + i * 0.4 * u, base - 0.58 * u, x + i * 0.4 * u + 0.03 * u, base, (0.45, 0.45, 0.47))
    elif kind == "hydrant":
        layer.rect(x, base - 0.25 * u, x + 0.1 * u, base, (0.7, 0.15, 0.12), shade=0.4)
    elif kind == "trolley":
        layer.rect(x, base - 0.35 * u, x + 0.35 * u, base - 0.08 * u, (0.6, 0.62, 0.64))
        for t in (0.05, 0.3):
            layer.ellipse(x + t * u, base - 0.04 * u, 0.04 * u, 0.04 * u, dark)
    else:
        raise ValueError(f"unknown object {kind!r}")


def render_scene(world: World, camera: int, unit: int, difficulty: float = 0.5) -> Scene:
    """The panorama, front layer and metadata of camera ``camera`` (0-based) in ``world``.

    Args:
        unit: the output image height in pixels; the panorama is 1.75 units tall.
    """
    fam = FAMILIES[world.family]
    rng = np.random.default_rng(stable_seed("scene", world.family, world.seed, camera))
    u = float(unit)
    H, L = int(round(1.75 * u)), world.length
    foot_y = 1.4 * u
    wall_base = int(round(u * rng.uniform(0.5, 1.1)))
    horizon = wall_base - u * rng.uniform(0.35, 1.4)
    # Cameras of one world share its materials, as cameras on one campus film the same paving.
    wall, ground = str(rng.choice(world.walls)), str(rng.choice(world.grounds))
    bg = _Layer(H, L, with_alpha=False)
    mat = np.random.default_rng(stable_seed("material", world.family, world.seed, wall))
    bg.rgb[:wall_base] = _wall(wall, mat, rng, wall_base, L, u)
    mat = np.random.default_rng(stable_seed("material", world.family, world.seed, ground))
    bg.rgb[wall_base:] = _ground(ground, mat, rng, wall_base, H, L, horizon, foot_y, u)
    # Contact shadow where the wall meets the ground.
    yy = np.arange(H, dtype=np.float32)[:, None, None]
    bg.rgb *= 1 - 0.25 * np.exp(-np.abs(yy - wall_base) / (0.03 * u))

    # The shared landmarks, smaller the nearer they stand to the wall (perspective).
    for mark in world.landmarks:
        base = wall_base + mark.depth * (foot_y - 0.12 * u - wall_base)
        scale = (base - horizon) / (foot_y - horizon)
        _draw_object(bg, mark.kind, mark.x, base, u * scale, mark.colours, np.random.default_rng(mark.seed),
                     mark.width, wall_top=max(0.0, wall_base - 1.1 * u * scale))

    sunny = bool(rng.random() < rng.uniform(*fam.light))
    if sunny:  # cast shadows of unseen buildings: slanted dark bands
        slope, period = rng.uniform(-1.2, 1.2), u * rng.uniform(1.5, 4.0)
        xs = np.arange(L, dtype=np.float32)[None, :]
        band = ((xs + slope * yy[..., 0]) % period) < period * rng.uniform(0.3, 0.6)
        bg.rgb *= np.where(band, rng.uniform(0.55, 0.75), 1.0).astype(np.float32)[..., None]

    # The front layer: occluders between the camera and the walking line.
    front = _Layer(H, L, with_alpha=True)
    density = 0.12 + 0.25 * difficulty
    x = float(rng.exponential(u / density))
    while x < L:
        kind = str(rng.choice(fam.occluders))
        width = {"bench_front": 0.7, "railing_front": rng.uniform(0.6, 1.5), "barrier": rng.uniform(0.6, 1.5),
                 "bike": 0.7, "planter_front": 0.8}.get(kind, 0.3)
        base = foot_y + u * rng.uniform(0.05, 0.35)
        scale = (base - horizon) / (foot_y - horizon)
        col = (_jitter(rng, CAR_COLOURS[rng.integers(len(CAR_COLOURS))]), _jitter(rng, NEUTRALS[rng.integers(4)]),
               _jitter(rng, SIGN_COLOURS[rng.integers(len(SIGN_COLOURS))]))
        _draw_object(front, kind, x, base, u * scale, col, rng, width, wall_top=0.0)
        x += width * u * scale + float(rng.exponential(u / density))

    scene_id = f"{world.world_id}-cam{camera + 1}"
    meta = {"scene_id": scene_id, "world": world.world_id, "family": world.family, "wall": wall, "ground": ground,
            "sunny": sunny, "wall_base": round(wall_base / u, 3), "horizon": round(float(horizon) / u, 3)}
    return Scene(camera, scene_id, wall, ground, sunny, wall_base, foot_y, bg.rgb, front.rgb, front.alpha, meta)

"""The articulated 2-D person: a skeleton posed mid-stride, drawn as shaded shapes.

A figure is built in *figure units* (1 = the canvas's nominal person height,
y down, x forward in side views) from a walking skeleton: thighs and shins
swing with the gait phase, knees bend in the swing, arms counter-swing. Body
parts are capsules, ellipses and convex polygons, drawn back to front in an
order that depends on the viewpoint, so a backpack covers the back from
behind, only its straps show from the front, and the far arm is hidden
behind the torso in a side view. Each shape is anti-aliased from its signed
distance, shaded like a cylinder lit from the upper left, and the clothes
get a per-person texture of grain and creases.

All gait phases of one viewpoint are drawn in one batch: the sequence of
shapes is the same for every phase, only the joint positions differ, so
each shape is one numpy operation over a (phases, h, w) block. This is what
makes rendering a person's whole walk cost about as much as one pose.

:func:`render_poses` returns :class:`Sprite` s: premultiplied RGB, alpha and
part labels (1 head, 2 upper body, 3 lower body, 4 accessories) on a canvas
whose size depends only on the pixel height, so all poses of one person
share it. Viewpoints are ``"front"``, ``"back"`` and ``"side"`` (walking
right; :meth:`Sprite.flipped` walks left).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .identity import Identity
from .textures import value_noise

VIEWPOINTS = ("front", "back", "side")
NUM_PHASES = 8  # gait phases per cycle; a person's sprites are rendered per (viewpoint, phase)
HEAD, UPPER, LOWER, ACCESSORY = 1, 2, 3, 4


@dataclass(frozen=True)
class Sprite:
    """A rendered person.

    rgb: (h, w, 3) float32 colour premultiplied by alpha.
    alpha: (h, w) float32 coverage in [0, 1].
    labels: (h, w) uint8 part labels (0 where alpha < 0.5).
    foot: (x, y) pixel position of the ground point between the feet.
    """

    rgb: np.ndarray
    alpha: np.ndarray
    labels: np.ndarray
    foot: tuple[float, float]

    def flipped(self) -> Sprite:
        """The mirror image (a side view walking left)."""
        w = self.alpha.shape[1]
        return Sprite(self.rgb[:, ::-1], self.alpha[:, ::-1], self.labels[:, ::-1], (w - self.foot[0], self.foot[1]))


def canvas_shape(pixel_height: float) -> tuple[int, int]:
    """(h, w) of the canvas of a person of nominal height ``pixel_height`` (room for builds up to 8 % taller)."""
    return int(np.ceil(pixel_height * 1.16)) + 3, int(np.ceil(pixel_height * 0.76)) | 1


def _col(v) -> np.ndarray:
    """A scalar or (B,) value as a (B or 1, 1, 1) array for broadcasting over (B, h, w)."""
    return np.asarray(v, np.float32).reshape(-1, 1, 1)


def _xy(p) -> tuple[np.ndarray, np.ndarray]:
    """x and y of a point or a batch of points (..., 2), each as (B or 1, 1, 1)."""
    p = np.asarray(p, np.float32)
    return p[..., 0].reshape(-1, 1, 1), p[..., 1].reshape(-1, 1, 1)


class _Painter:
    """Draws anti-aliased, shaded shapes onto a batch of figure canvases, back to front."""

    def __init__(self, batch: int, pixel_height: float, texture: np.ndarray, ident: Identity, light=None,
                 detail: float = 1.0):
        self.h, self.w = canvas_shape(pixel_height)
        self.s = float(pixel_height)
        self.ox, self.oy = self.w / 2.0, 0.08 * self.s + 1.0
        self.rgb = np.zeros((batch, self.h, self.w, 3), np.float32)
        self.alpha = np.zeros((batch, self.h, self.w), np.float32)
        self.labels = np.zeros((batch, self.h, self.w), np.uint8)
        # Pixel centres in figure units.
        self.xs = ((np.arange(self.w) + 0.5 - self.ox) / self.s).astype(np.float32)
        self.ys = ((np.arange(self.h) + 0.5 - self.oy) / self.s).astype(np.float32)
        self.texture = texture
        self.ident = ident
        # How much darker a shape's right rim is than its left: the side the light comes from, per pose.
        self.light = 0.1 if light is None else _col(light)
        self.detail = detail

    def _window(self, x0, y0, x1, y1):
        """Pixel rows and columns covering figure-unit boxes (the union over the batch) and their coordinates."""
        c0 = max(0, int(np.floor(np.min(x0) * self.s + self.ox)) - 1)
        c1 = min(self.w, int(np.ceil(np.max(x1) * self.s + self.ox)) + 2)
        r0 = max(0, int(np.floor(np.min(y0) * self.s + self.oy)) - 1)
        r1 = min(self.h, int(np.ceil(np.max(y1) * self.s + self.oy)) + 2)
        X = self.xs[None, None, c0:c1]
        Y = self.ys[None, r0:r1, None]
        return (r0, r1, c0, c1), X, Y

    def _paint(self, win, dist: np.ndarray, u: np.ndarray, colour, label: int, shade: float, pattern: bool,
               X: np.ndarray, Y: np.ndarray) -> None:
        r0, r1, c0, c1 = win
        if r0 >= r1 or c0 >= c1:
            return
        a = np.broadcast_to(np.clip(0.5 - dist * self.s, 0.0, 1.0), self.alpha[:, r0:r1, c0:c1].shape)
        # Cylinder shading: bright along the axis, darker at the rims and on the side away from the light
        # (by default the right: light from the left).
        lit = shade * (1.06 - 0.36 * u * u - self.light * u)  # 0.7 + 0.36 (1 - u^2): a cheap round profile
        col = np.asarray(colour, np.float32)
        if pattern and self.ident.pattern in ("stripes", "checks", "print"):
            m = self._pattern(X, Y, win)[..., None]
            col = col * (1.0 - m) + np.asarray(self.ident.pattern_rgb, np.float32) * m
        col = col * lit[..., None]
        a3 = a[..., None]
        region = self.rgb[:, r0:r1, c0:c1]
        region *= 1.0 - a3
        region += a3 * col
        al = self.alpha[:, r0:r1, c0:c1]
        al += a * (1.0 - al)
        self.labels[:, r0:r1, c0:c1][a > 0.5] = label

    def _pattern(self, X: np.ndarray, Y: np.ndarray, win) -> np.ndarray:
        """Weight of the pattern colour in [0, 1], in figure coordinates (stripes, checks) or canvas (print)."""
        kind, p = self.ident.pattern, self.ident.pattern_scale
        sharp = max(1.0, p * self.s / 5.0)  # ~one-pixel transitions whatever the period
        if kind == "stripes":
            return np.clip(0.5 + np.sin(2 * np.pi * Y / p) * sharp, 0, 1) * np.ones_like(X)
        if kind == "checks":
            sy = np.clip(0.5 + np.sin(2 * np.pi * Y / p) * sharp, 0, 1)
            sx = np.clip(0.5 + np.sin(2 * np.pi * X / p) * sharp, 0, 1)
            return 0.45 * (sx + sy)
        r0, r1, c0, c1 = win
        return np.clip((self.texture[None, r0:r1, c0:c1, 1] - 0.68) * 5.0, 0, 0.8)

    def capsule(self, a, b, r0, r1, colour, label: int, shade: float = 1.0, pattern: bool = False) -> None:
        """A tapered capsule from point ``a`` (radius ``r0``) to ``b`` (radius ``r1``), in figure units."""
        ax, ay = _xy(a)
        bx, by = _xy(b)
        r0, r1 = _col(r0), _col(r1)
        r = np.maximum(r0, r1)
        win, X, Y = self._window(np.minimum(ax, bx) - r, np.minimum(ay, by) - r,
                                 np.maximum(ax, bx) + r, np.maximum(ay, by) + r)
        bax, bay = bx - ax, by - ay
        L2 = np.maximum(bax * bax + bay * bay, 1e-9)
        px, py = X - ax, Y - ay
        t = np.clip((px * bax + py * bay) / L2, 0.0, 1.0)
        dx, dy = px - bax * t, py - bay * t
        rad = r0 + (r1 - r0) * t
        dist = np.sqrt(dx * dx + dy * dy) - rad
        # Signed offset across the axis, in units of the local radius: -1 on the left rim, +1 on the right.
        u = np.clip((px * bay - py * bax) / np.sqrt(L2) / rad * np.sign(bay + 1e-9), -1, 1)
        self._paint(win, dist, u, colour, label, shade, pattern, X, Y)

    def ellipse(self, c, rx, ry, colour, label: int, shade: float = 1.0, clip=None, pattern: bool = False) -> None:
        """An ellipse centred at ``c``; ``clip`` = (nx, ny, offset) keeps the side where nx*x + ny*y <= offset."""
        cx, cy = _xy(c)
        rx, ry = _col(rx), _col(ry)
        win, X, Y = self._window(cx - rx, cy - ry, cx + rx, cy + ry)
        nx, ny = (X - cx) / rx, (Y - cy) / ry
        dist = (np.sqrt(nx * nx + ny * ny) - 1.0) * np.minimum(rx, ry)
        if clip is not None:
            dist = np.maximum(dist, clip[0] * X + clip[1] * Y - _col(clip[2]))
        self._paint(win, dist, np.clip(nx, -1, 1), colour, label, shade, pattern, X, Y)

    def polygon(self, points: Sequence, colour, label: int, shade: float = 1.0, rounding: float = 0.006,
                pattern: bool = False) -> None:
        """A convex polygon; ``points`` are (x, y) pairs whose entries are numbers or (B,) arrays."""
        pts = np.stack([np.stack(np.broadcast_arrays(np.asarray(x, np.float32), np.asarray(y, np.float32)), -1)
                        for x, y in points], -2).reshape(-1, len(points), 2)  # (B or 1, n, 2)
        x, y = pts[..., 0], pts[..., 1]
        orient = np.sign(np.sum(x * np.roll(y, -1, 1) - np.roll(x, -1, 1) * y, axis=1)).reshape(-1, 1, 1)
        lo, hi = pts.min(1) - rounding, pts.max(1) + rounding
        win, X, Y = self._window(lo[:, 0], lo[:, 1], hi[:, 0], hi[:, 1])
        dist = None
        for i in range(pts.shape[1]):
            x0, y0 = _xy(pts[:, i])
            x1, y1 = _xy(pts[:, (i + 1) % pts.shape[1]])
            ex, ey = x1 - x0, y1 - y0
            # Outward normal of a counter-clockwise edge (y down: (ey, -ex) points out).
            d = ((X - x0) * ey - (Y - y0) * ex) / np.maximum(np.hypot(ex, ey), 1e-9) * orient
            dist = d if dist is None else np.maximum(dist, d)
        cx, half = _col(0.5 * (lo[:, 0] + hi[:, 0])), _col(np.maximum(0.5 * (hi[:, 0] - lo[:, 0]), 1e-3))
        u = np.clip((X - cx) / half, -1, 1) * np.ones_like(Y)
        self._paint(win, dist - rounding, u, colour, label, shade, pattern, X, Y)

    def finish(self, foot: tuple[float, float]) -> list[Sprite]:
        # Light falls from above: legs a little darker than the shoulders.
        fall = (1.1 - 0.2 * self.ys)[None, :, None, None]
        grain = 1.0 + 0.12 * self.detail * self.texture[None, ..., :1]
        # Ambient occlusion: pixels near the silhouette's edge are darker, as on a rounded body.
        a = self.alpha
        blur = a.copy()
        blur[:, 1:] += a[:, :-1]
        blur[:, :-1] += a[:, 1:]
        blur[:, :, 1:] += a[:, :, :-1]
        blur[:, :, :-1] += a[:, :, 1:]
        rim = 1.0 - 0.3 * np.clip(1.0 - blur / 5.0, 0.0, 1.0)[..., None]
        # Premultiplied colour never exceeds its alpha.
        rgb = np.minimum(np.clip(self.rgb * fall * grain * rim, 0.0, None), a[..., None])
        fx, fy = foot[0] * self.s + self.ox, foot[1] * self.s + self.oy
        return [Sprite(rgb[i], a[i], self.labels[i], (float(fx), float(fy))) for i in range(len(rgb))]


def texture_for(ident: Identity, pixel_height: float) -> np.ndarray:
    """(h, w, 2) per-person cloth texture: channel 0 grain and creases, channel 1 blotches for printed shirts."""
    h, w = canvas_shape(pixel_height)
    rng = np.random.default_rng(ident.texture_seed)
    # Creases: noise stretched vertically, as cloth folds hang.
    gh, gw = h // 6 + 2, w // 2 + 2
    folds = np.asarray(Image.fromarray(rng.standard_normal((gh, gw)).astype(np.float32)).resize(
        (gw * 2, gh * 6), Image.BICUBIC), np.float32)[:h, :w]
    grain = value_noise(rng, h, w, 1.4) * 0.15 + value_noise(rng, h, w, 5.0) * 0.15 + folds * 0.8
    blotch = 0.5 + 0.35 * value_noise(rng, h, w, max(2.0, pixel_height * 0.05))
    return np.stack([grain, blotch], -1).astype(np.float32)


def _limb(angle: np.ndarray, length: float) -> np.ndarray:
    """(B, 2) limb vectors hanging down at ``angle`` radians (positive = swung forward, towards +x)."""
    return np.stack([np.sin(angle), np.cos(angle)], -1) * length


def _pt(x, y) -> np.ndarray:
    """(B, 2) points from x and y that are numbers or (B,) arrays."""
    return np.stack(np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float)), -1).reshape(-1, 2)


def render_poses(ident: Identity, view: str, phases: Sequence[float], pixel_height: float,
                 texture: np.ndarray | None = None, *, stride: Sequence[float] | None = None,
                 arm_swing: Sequence[float] | None = None, light: Sequence[float] | None = None,
                 detail: float = 1.0) -> list[Sprite]:
    """Render ``ident`` in viewpoint ``view`` at each gait phase of ``phases`` (0..NUM_PHASES, not
    necessarily whole: renderer 2 draws a continuous phase per image).

    Args:
        pixel_height: the nominal standing height in pixels; the build's
            height factor makes the person a little taller or shorter.
        texture: :func:`texture_for` of the same person and height (computed if omitted).
        stride, arm_swing: per pose, factors on the person's leg and arm swing (default 1).
        light: per pose, how much darker each shape's right rim is than its left (default 0.1, light
            from the left; negative: light from the right).
        detail: a factor on the contrast of the cloth's grain and creases (renderer 2 draws more).
    """
    if view not in VIEWPOINTS:
        raise ValueError(f"view must be one of {VIEWPOINTS}, got {view!r}")
    if texture is None:
        texture = texture_for(ident, pixel_height)
    b = ident.build
    P = _Painter(len(phases), pixel_height, texture, ident, light, detail)
    k = b.height  # the person's height in canvas figure units
    phi = 2 * np.pi * np.asarray(phases, float) / NUM_PHASES  # (B,)

    # Proportions (figure units, head top at 0, soles at k before grounding).
    head_ry, head_rx = 0.068 * b.head * k, (0.062 if view == "side" else 0.057) * b.head * k
    shoulder_y = (2 * 0.068 * b.head + 0.036) * k
    leg = 0.49 * b.legs * k
    hip_y = k - leg
    thigh, shin = 0.52 * (leg - 0.03 * k), 0.48 * (leg - 0.03 * k)
    bulk = np.sqrt(b.bulk)
    sw = 0.14 * b.shoulders * bulk * k  # shoulder half width
    hw = 0.105 * b.hips * bulk * k  # hip half width
    depth = 0.08 * b.bulk * k  # half depth of the chest in a side view
    r_ankle = 0.032 * k
    upper_arm, forearm = 0.165 * k, 0.15 * k
    amp = 0.36 * ident.stride
    if stride is not None:
        amp = amp * np.asarray(stride, float)
    arm_amp = amp if arm_swing is None else amp * np.asarray(arm_swing, float)

    # The skeleton, before grounding: every joint is (B, 2).
    j: dict[str, np.ndarray] = {}
    if view == "side":
        for name, ph in (("near", phi), ("far", phi + np.pi)):
            swing = amp * np.sin(ph)
            flex = 0.08 + 0.7 * np.maximum(0.0, np.cos(ph + np.pi / 4)) ** 2  # the knee bends in the swing
            hip = _pt(np.zeros_like(ph), hip_y)
            knee = hip + _limb(swing, thigh)
            j[f"hip_{name}"], j[f"knee_{name}"], j[f"ankle_{name}"] = hip, knee, knee + _limb(swing - flex, shin)
            arm = -0.55 * arm_amp * np.sin(ph)  # arms counter-swing
            sh = _pt(np.full_like(ph, 0.01 * k), shoulder_y + 0.02 * k)
            elbow = sh + _limb(arm, upper_arm)
            j[f"shoulder_{name}"], j[f"elbow_{name}"] = sh, elbow
            j[f"wrist_{name}"] = elbow + _limb(arm + 0.25 + 0.25 * np.maximum(0.0, np.sin(ph)), forearm)
    else:
        sign = 1.0 if view == "front" else -1.0  # the person's right side is image-left from the front
        for name, side, ph in (("right", -sign, phi), ("left", sign, phi + np.pi)):
            hip = _pt(np.full_like(ph, side * 0.052 * b.hips * k), hip_y)
            lift = 0.035 * k * np.maximum(0.0, np.cos(ph + np.pi / 4)) ** 2  # a foot in swing rises
            if stride is not None:
                lift = lift * np.asarray(stride, float)
            toward = 0.012 * k * np.sin(ph)  # the leading foot is nearer the camera: lower in the image
            ankle = _pt(np.full_like(ph, side * 0.055 * k), k - 0.025 * k - lift + toward)
            knee = 0.5 * (hip + ankle) + np.array([side * 0.004 * k, -0.01 * k])
            j[f"hip_{name}"], j[f"knee_{name}"], j[f"ankle_{name}"] = hip, knee, ankle
            sh = _pt(np.full_like(ph, side * (sw - 0.024 * k)), shoulder_y + 0.04 * k)
            elbow = sh + np.array([side * 0.028 * k, upper_arm * 0.98])
            swing = np.abs(0.04 * k * np.sin(ph))  # a hand swinging towards / away from the camera
            if arm_swing is not None:
                swing = swing * np.asarray(arm_swing, float)
            j[f"shoulder_{name}"], j[f"elbow_{name}"] = sh, elbow
            j[f"wrist_{name}"] = elbow + _pt(np.full_like(ph, side * 0.006 * k), forearm * 0.97 - swing * 0.6)

    # Ground each pose: its lower foot's sole touches y = k.
    soles = np.max([j[n][:, 1] for n in j if n.startswith("ankle")], axis=0) + r_ankle
    drop = k - soles  # (B,)
    for n, joint in j.items():
        j[n] = joint + np.stack([np.zeros_like(drop), drop], -1)
    g = dict(
        head_c=_pt(0.012 * k if view == "side" else 0.0, head_ry + drop + 0.004 * k), head_rx=head_rx,
        head_ry=head_ry, shoulder_y=shoulder_y + drop, hip_y=hip_y + drop, sw=sw, hw=hw, depth=depth,
        r_thigh=0.06 * bulk * k, r_knee=0.047 * bulk * k, r_ankle=r_ankle, r_arm=0.042 * bulk * k,
        r_elbow=0.036 * bulk * k, r_wrist=0.024 * k)
    _Parts(P, ident, view, j, k, g).draw()
    return P.finish((0.0, k))


def render_figure(ident: Identity, view: str, phase: int, pixel_height: float,
                  texture: np.ndarray | None = None) -> Sprite:
    """One pose: :func:`render_poses` with a single phase."""
    return render_poses(ident, view, [phase], pixel_height, texture)[0]


class _Parts:
    """Draws the body parts of a batch of poses in viewpoint order (joints are (B, 2), g holds sizes)."""

    def __init__(self, P: _Painter, ident: Identity, view: str, joints: dict, k: float, g: dict):
        self.P, self.id, self.view, self.j, self.k, self.g = P, ident, view, joints, k, g

    # Limbs -----------------------------------------------------------------
    def leg(self, name: str, shade: float = 1.0) -> None:
        P, j, g, ident = self.P, self.j, self.g, self.id
        hip, knee, ankle = j[f"hip_{name}"], j[f"knee_{name}"], j[f"ankle_{name}"]
        bare = ident.skin if not ident.tights else (0.09, 0.08, 0.09)
        if ident.lower_kind == "trousers":
            P.capsule(hip, knee, g["r_thigh"], g["r_knee"], ident.lower_rgb, LOWER, shade)
            P.capsule(knee, ankle, g["r_knee"], g["r_ankle"] * 1.05, ident.lower_rgb, LOWER, shade)
        else:
            P.capsule(hip, knee, g["r_thigh"] * 0.8, g["r_knee"] * 0.85, bare, LOWER, shade)
            P.capsule(knee, ankle, g["r_knee"] * 0.85, g["r_ankle"] * 0.85, bare, LOWER, shade)
            if ident.lower_kind == "shorts":
                P.capsule(hip, hip + 0.75 * (knee - hip), g["r_thigh"] * 1.05, g["r_thigh"] * 0.95,
                          ident.lower_rgb, LOWER, shade)
        self.shoe(ankle, shade)

    def shoe(self, ankle: np.ndarray, shade: float) -> None:
        P, g, k = self.P, self.g, self.k
        r = g["r_ankle"]
        if self.view == "side":
            P.capsule(ankle + np.array([-0.012 * k, 0.55 * r]), ankle + np.array([0.055 * k, 0.8 * r]),
                      r * 0.95, r * 0.8, self.id.shoes_rgb, LOWER, shade)
        else:
            P.ellipse(ankle + np.array([0.0, 0.55 * r]), r * 1.15, r * 0.85, self.id.shoes_rgb, LOWER, shade)

    def arm(self, name: str, shade: float = 1.0) -> None:
        P, j, g, ident = self.P, self.j, self.g, self.id
        sh, el, wr = j[f"shoulder_{name}"], j[f"elbow_{name}"], j[f"wrist_{name}"]
        P.capsule(sh, el, g["r_arm"], g["r_elbow"], ident.upper_rgb, UPPER, shade, pattern=True)
        if ident.sleeves == "long":
            P.capsule(el, wr, g["r_elbow"], g["r_wrist"] * 1.05, ident.upper_rgb, UPPER, shade, pattern=True)
        else:
            P.capsule(el, wr, g["r_elbow"] * 0.8, g["r_wrist"] * 0.9, ident.skin, UPPER, shade)
        along = (wr - el) / np.maximum(np.linalg.norm(wr - el, axis=-1, keepdims=True), 1e-6)
        P.ellipse(wr + along * g["r_wrist"] * 0.9, g["r_wrist"], g["r_wrist"] * 1.2, ident.skin, UPPER, shade * 0.9)

    # Trunk -----------------------------------------------------------------
    def pelvis(self) -> None:
        P, g, ident, k = self.P, self.g, self.id, self.k
        y = g["hip_y"]
        if ident.lower_kind == "skirt":
            a, b = ("knee_near", "knee_far") if self.view == "side" else ("knee_left", "knee_right")
            knee_y = 0.5 * (self.j[a][:, 1] + self.j[b][:, 1])
            hw = g["depth"] * 1.05 if self.view == "side" else g["hw"]
            flare = 1.55 if self.view != "side" else 1.9
            P.polygon([(-hw, y - 0.05 * k), (hw, y - 0.05 * k), (hw * flare, knee_y), (-hw * flare, knee_y)],
                      ident.lower_rgb, LOWER)
            return
        hw = g["depth"] * 0.9 if self.view == "side" else g["hw"]
        P.polygon([(-hw, y - 0.05 * k), (hw, y - 0.05 * k), (hw * 0.95, y + 0.045 * k), (-hw * 0.95, y + 0.045 * k)],
                  ident.lower_rgb, LOWER)

    def torso(self) -> None:
        P, g, ident, k = self.P, self.g, self.id, self.k
        top, hem = g["shoulder_y"] - 0.006 * k, g["hip_y"] + (0.02 + ident.upper_length) * k
        flare = 1.0 + 2.0 * ident.upper_length  # a coat widens below the hips
        if self.view == "side":
            d = g["depth"]
            pts = [(-d * 0.9, top + 0.01 * k), (d * 0.8 + 0.01 * k, top + 0.008 * k), (d * 1.05, top + 0.09 * k),
                   (d * 0.95 * flare, hem), (-d * 1.0 * flare, hem), (-d * 1.08, top + 0.1 * k)]
        else:
            sw, hw = g["sw"], g["hw"]
            # Sloping shoulders: narrow at the collar, full width a little lower.
            pts = [(-sw * 0.5, top - 0.004 * k), (sw * 0.5, top - 0.004 * k), (sw * 0.92, top + 0.03 * k),
                   (sw, top + 0.07 * k), (hw * 1.04 * flare, hem), (-hw * 1.04 * flare, hem), (-sw, top + 0.07 * k),
                   (-sw * 0.92, top + 0.03 * k)]
        P.polygon(pts, ident.upper_rgb, UPPER, rounding=0.012 * k, pattern=True)
        if ident.open_jacket and self.view == "front":
            w = g["sw"] * 0.3
            P.polygon([(-w, top), (w, top), (w * 0.9, hem - 0.01 * k), (-w * 0.9, hem - 0.01 * k)], ident.inner_rgb,
                      UPPER, rounding=0.004 * k)
        if ident.pattern == "logo" and self.view == "front":
            cy = top + 0.1 * k
            if ident.texture_seed % 2:
                P.ellipse(_pt(0.0, cy), 0.032 * k, 0.03 * k, ident.pattern_rgb, UPPER)
            else:
                P.polygon([(-0.045 * k, cy - 0.02 * k), (0.045 * k, cy - 0.02 * k), (0.045 * k, cy + 0.022 * k),
                           (-0.045 * k, cy + 0.022 * k)], ident.pattern_rgb, UPPER, rounding=0.002 * k)

    # Head ------------------------------------------------------------------
    def head(self) -> None:
        P, g, ident, k, view = self.P, self.g, self.id, self.k, self.view
        c, rx, ry = g["head_c"], g["head_rx"], g["head_ry"]
        cx, cy = c[:, 0], c[:, 1]
        neck_x = cx - (0.006 * k if view == "side" else 0.0)
        P.capsule(_pt(cx, cy + ry * 0.6), _pt(neck_x, g["shoulder_y"] + 0.01 * k), 0.022 * k, 0.026 * k,
                  ident.skin, HEAD, 0.6)
        long_hair = ident.hair_length == "long"
        if long_hair and view != "back":
            # Hair falling behind the head to the shoulders: drawn before the face.
            off = -0.02 * k if view == "side" else 0.0
            P.ellipse(_pt(cx + off, cy + ry * 0.9), rx * 1.15, ry * 1.7, ident.hair_rgb, HEAD, 0.9)
        if view == "back":
            P.ellipse(c, rx * 1.05, ry * 1.02, ident.hair_rgb, HEAD)
            if long_hair:
                P.ellipse(_pt(cx, cy + ry * 1.0), rx * 1.12, ry * 1.75, ident.hair_rgb, HEAD)
            elif ident.hair_length == "medium":
                P.ellipse(_pt(cx, cy + ry * 0.45), rx * 1.06, ry * 0.95, ident.hair_rgb, HEAD)
        else:
            P.ellipse(c, rx, ry, ident.skin, HEAD, 0.88)
            if view == "side":
                # Hair over the crown and the back of the head.
                P.ellipse(_pt(cx - 0.008 * k, cy - 0.006 * k), rx * 1.08, ry * 1.06, ident.hair_rgb, HEAD,
                          clip=(0.6, 1.0, cx * 0.6 + cy - 0.15 * ry))
                if ident.hair_length == "medium":
                    P.ellipse(_pt(cx - 0.35 * rx, cy + 0.3 * ry), rx * 0.7, ry * 0.8, ident.hair_rgb, HEAD)
            else:
                hairline = cy - ry * (0.2 if ident.hair_length == "short" else 0.05)
                P.ellipse(_pt(cx, cy - 0.004 * k), rx * 1.1, ry * 1.06, ident.hair_rgb, HEAD,
                          clip=(0.0, 1.0, hairline))
                for side in (-1, 1):  # hair over the temples
                    P.ellipse(_pt(cx + side * rx * 0.85, cy - ry * 0.05), rx * (0.3 if ident.hair_length == "short"
                                                                                 else 0.38), ry * 0.7,
                              ident.hair_rgb, HEAD)
                # Eyes: a darker band at 128 px, a hint of a face at larger sizes.
                for side in (-1, 1):
                    P.ellipse(_pt(cx + side * rx * 0.38, cy + ry * 0.08), rx * 0.15, ry * 0.08, (0.12, 0.09, 0.08),
                              HEAD)
        if ident.hat != "none":
            P.ellipse(_pt(cx, cy - 0.005 * k), rx * 1.12, ry * 1.07, ident.hat_rgb, HEAD,
                      clip=(0.0, 1.0, cy - ry * 0.3))
            if view != "back":
                brim = 0.5 * rx if view == "side" else 0.0
                P.ellipse(_pt(cx + brim, cy - ry * 0.32), rx * (1.0 if view == "side" else 1.15), ry * 0.16,
                          ident.hat_rgb, HEAD, 0.85)

    # Bags ------------------------------------------------------------------
    def backpack_body(self) -> None:
        P, g, ident, k = self.P, self.g, self.id, self.k
        top, bot = g["shoulder_y"] + 0.01 * k, g["shoulder_y"] + 0.25 * k
        if self.view == "side":
            d = g["depth"]
            P.polygon([(-d * 0.9, top), (-d * 0.9 - 0.08 * k, top + 0.02 * k), (-d * 0.9 - 0.095 * k, bot - 0.02 * k),
                       (-d * 0.9, bot)], ident.bag_rgb, ACCESSORY, rounding=0.015 * k)
        else:
            w = g["sw"] * 0.74
            P.polygon([(-w, top), (w, top), (w * 1.02, bot), (-w * 1.02, bot)], ident.bag_rgb, ACCESSORY,
                      rounding=0.02 * k)
            # A front pocket: a slightly darker panel.
            P.polygon([(-w * 0.7, bot - 0.1 * k), (w * 0.7, bot - 0.1 * k), (w * 0.72, bot - 0.015 * k),
                       (-w * 0.72, bot - 0.015 * k)], tuple(v * 0.8 for v in ident.bag_rgb), ACCESSORY,
                      rounding=0.01 * k)

    def backpack_straps(self) -> None:
        P, g, ident, k = self.P, self.g, self.id, self.k
        y = g["shoulder_y"]
        if self.view == "front":
            for side in (-1, 1):
                x = side * g["sw"] * 0.55
                P.capsule(_pt(x, y - 0.002 * k), _pt(x * 1.05, y + 0.17 * k), 0.012 * k, 0.011 * k,
                          ident.bag_rgb, ACCESSORY)
        elif self.view == "side":
            P.capsule(_pt(0.0, y), _pt(-0.01 * k, y + 0.16 * k), 0.011 * k, 0.011 * k, ident.bag_rgb, ACCESSORY)

    def shoulder_bag(self) -> None:
        P, g, ident, k = self.P, self.g, self.id, self.k
        if self.view == "side":
            bx, by = -0.005 * k, g["hip_y"] - 0.01 * k
            P.capsule(_pt(0.0, g["shoulder_y"]), _pt(bx, by), 0.008 * k, 0.008 * k, ident.bag_rgb, ACCESSORY)
            P.polygon([(bx - 0.06 * k, by - 0.035 * k), (bx + 0.06 * k, by - 0.035 * k), (bx + 0.06 * k, by + 0.06 * k),
                       (bx - 0.06 * k, by + 0.06 * k)], ident.bag_rgb, ACCESSORY, rounding=0.01 * k)
            return
        x_sh, x_bag = -ident.bag_side * g["sw"] * 0.7, ident.bag_side * (g["hw"] + 0.035 * k)
        P.capsule(_pt(x_sh, g["shoulder_y"]), _pt(x_bag, g["hip_y"] - 0.02 * k), 0.009 * k, 0.009 * k,
                  ident.bag_rgb, ACCESSORY)
        y = g["hip_y"] - 0.03 * k
        P.polygon([(x_bag - 0.045 * k, y), (x_bag + 0.045 * k, y), (x_bag + 0.047 * k, y + 0.1 * k),
                   (x_bag - 0.047 * k, y + 0.1 * k)], ident.bag_rgb, ACCESSORY, rounding=0.01 * k)

    def handbag(self, wrist: np.ndarray) -> None:
        P, ident, k = self.P, self.id, self.k
        x, y = wrist[:, 0], wrist[:, 1] + 0.02 * k
        w = 0.05 * k if self.view == "side" else 0.03 * k
        P.polygon([(x - w, y), (x + w, y), (x + w * 1.1, y + 0.09 * k), (x - w * 1.1, y + 0.09 * k)],
                  ident.bag_rgb, ACCESSORY, rounding=0.01 * k)

    # Order -----------------------------------------------------------------
    def draw(self) -> None:
        ident, view = self.id, self.view
        bag = ident.bag
        if view == "side":
            # Far limbs first and in shadow; then the backpack, the near leg, trunk, head, near arm.
            self.arm("far", 0.78)
            if bag == "handbag" and ident.bag_side < 0:
                self.handbag(self.j["wrist_far"])
            self.leg("far", 0.8)
            if bag == "backpack":
                self.backpack_body()
            self.leg("near")
            self.pelvis()
            self.torso()
            self.head()
            if bag == "backpack":
                self.backpack_straps()
            self.arm("near")
            if bag == "shoulder bag":
                self.shoulder_bag()
            if bag == "handbag" and ident.bag_side > 0:
                self.handbag(self.j["wrist_near"])
            return
        self.leg("left")
        self.leg("right")
        self.pelvis()
        self.torso()
        self.arm("left")
        self.arm("right")
        if bag == "shoulder bag":
            self.shoulder_bag()
        if bag == "handbag":
            self.handbag(self.j["wrist_left" if ident.bag_side > 0 else "wrist_right"])
        self.head()
        if bag == "backpack":
            if view == "back":
                self.backpack_body()
            else:
                self.backpack_straps()

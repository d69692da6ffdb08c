"""Tracklets, crops and files: writing a SynthReID dataset.

The work is split into *units*, one per person: a labelled identity (train,
test, or gallery-only) or an unlabelled distractor (identity 0). Each unit
is rendered from its own seed, so the output does not depend on the order
of units or on the number of worker processes. For one unit:

1. draw the person (:func:`.identity.sample_identity`) and the cameras that
   see them; per camera one or more **tracklets**: a viewpoint, a walking
   direction, a scene position (the person's habitual position with
   probability ``bg_share``, else anywhere), a start phase and a speed;
2. per image of a tracklet, move the person a little along the strip and on
   in the gait cycle, composite the (cached) sprite of that pose over the
   camera's panorama with a contact shadow, scene occluders and sometimes
   another pedestrian in front or behind, and crop like a detector: the box
   fits the person loosely with jitter in scale and position;
3. develop the crop through the camera (:mod:`.camera`) and write the JPEG,
   its part-label PNG (labels of occluded parts become background), and a
   metadata record.

Renderer 1 caches one sprite per (viewpoint, gait phase) of a person and
reuses it wherever the plan returns to that pose; renderer 2
(``SynthConfig.renderer``) draws every image's sprite afresh with its own
continuous phase, stride, arm swing, light side and, per tracklet, pixel
scale (:func:`_pose_sprites`), and writes a role map per image in
``roles/`` (:data:`ROLES`). Each image's metadata names its sprite by a
digest (:func:`sprite_digest`), so a test can check that no two images
share person pixels.

For test identities one image per camera (from one tracklet) becomes the
query; junk crops (identity -1: badly placed boxes around the same person)
go to the gallery, as in Market-1501.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..masks import write_label_map
from .camera import CameraModel, develop, encode_jpeg, noise_bank, resample_labels, sample_camera
from .figure import NUM_PHASES, Sprite, render_figure, render_poses, texture_for
from .identity import Identity, sample_identity
from .presets import GENERATOR_VERSION, SynthConfig, config_key, make_config
from .scene import Scene, World, build_world, render_scene, stable_seed, street_grade

SPLIT_FOLDERS = {"train": "bounding_box_train", "query": "query", "gallery": "bounding_box_test"}
MASK_FOLDER = "masks"
ROLE_FOLDER = "roles"  # renderer 2: who each pixel belongs to (ROLES)
# The role map's labels: what each background variant of a study removes or keeps can be stated in these.
ROLES = {0: "background", 1: "target person", 2: "other people", 3: "occluders"}
TARGET, OTHERS, OCCLUDERS = 1, 2, 3
META_FILE = "meta.json"
COMPLETE_MARKER = ".complete"
PERSON_HEIGHT = 0.88  # a standing person's height on the walking line, in output-image heights
CLOTH_DETAIL = 2.5  # renderer 2: contrast of cloth grain and creases, times renderer 1's
CROWD_SIZE = 12  # pre-rendered passers-by of each kind (near occluders, far background people)
MAX_FRAMES = 1_000_000  # Market-1501 frame numbers have six digits


@dataclass(frozen=True)
class Unit:
    """One person to render: ``role`` is train / test / gallery (gallery-only) / distractor."""

    index: int
    role: str
    pid: int
    num_junk: int = 0
    num_images: int = 0  # distractors: exact image count


@dataclass
class _Context:
    """What every unit needs: the config, the cameras and their scenes, the crowd, the output folder."""

    config: SynthConfig
    seed: int
    out: Path
    scenes: list[Scene]
    cameras: list[CameraModel]
    crowd: tuple[list[Sprite], list[Sprite]]  # (near, far) passers-by
    noise: list[np.ndarray]  # per camera, see camera.noise_bank
    frame_stride: int


_CTX: _Context | None = None  # set in each worker process


def _init_worker(ctx: _Context) -> None:
    global _CTX
    _CTX = ctx


# Tracklets ---------------------------------------------------------------------------

@dataclass
class _Tracklet:
    camera: int
    index: int  # within the unit
    view: str
    direction: int  # +1 walking right, -1 left (side views)
    x: float  # scene position of the middle image (px)
    foot_dy: float  # depth jitter of the walking line (px)
    speed: float  # px per image along the strip
    phase0: int
    phase_step: int
    frame0: int
    frame_step: int
    exposure: float
    num_images: int


def _plan_tracklets(unit: Unit, rng: np.random.Generator, ctx: _Context) -> list[_Tracklet]:
    cfg = ctx.config
    unit_px, width_px = cfg.height, cfg.width
    L = ctx.scenes[0].background.shape[1]
    margin = 1.5 * width_px
    anchor = rng.uniform(margin, L - margin)  # where this person usually walks
    if unit.role in ("distractor", "gallery"):  # passers-by and gallery-only people: one camera
        cams = [int(rng.integers(cfg.num_cameras))]
    else:
        lo, hi = cfg.cameras_per_test_id if unit.role == "test" else cfg.cameras_per_train_id
        cams = sorted(int(c) for c in rng.choice(cfg.num_cameras, int(rng.integers(lo, hi + 1)), replace=False))
    d = cfg.difficulty
    tracklets: list[_Tracklet] = []
    for cam in cams:
        frame = 0  # frame numbers count per camera, within this unit's own range
        if unit.role == "distractor":
            counts = [unit.num_images]
        else:
            n_t = int(rng.integers(cfg.tracklets_per_camera[0], cfg.tracklets_per_camera[1] + 1))
            counts = [int(rng.integers(cfg.images_per_tracklet[0], cfg.images_per_tracklet[1] + 1)) for _ in range(n_t)]
            if unit.role == "test" and sum(counts) < 2:
                counts[0] = 2  # a query and at least one gallery image per camera
        for n in counts:
            view = str(rng.choice(("front", "back", "side"), p=ctx.cameras[cam].views))
            if rng.random() < cfg.bg_share:
                x = anchor + rng.normal(0.0, 0.2 * width_px)
            else:
                x = rng.uniform(margin, L - margin)
            step = int(rng.integers(3, 9))
            tracklets.append(_Tracklet(
                camera=cam, index=len(tracklets), view=view, direction=int(rng.choice((-1, 1))),
                x=float(np.clip(x, margin, L - margin)), foot_dy=float(rng.uniform(-0.05, 0.04) * unit_px),
                speed=float(rng.uniform(0.12, 0.3) * width_px if view == "side" else rng.uniform(0.0, 0.05) * width_px),
                phase0=int(rng.integers(NUM_PHASES)), phase_step=int(rng.choice((2, 3, 5))),
                frame0=frame, frame_step=step,
                exposure=float(np.exp(rng.normal(0.0, 0.04 + 0.08 * d))), num_images=n))
            frame += step * n + int(rng.integers(5, 20))
        if frame >= ctx.frame_stride:
            raise RuntimeError(f"unit {unit.index} needs {frame} frame numbers in camera {cam + 1} but has "
                               f"{ctx.frame_stride}; reduce identities, tracklets or images per tracklet")
    return tracklets


# Compositing -----------------------------------------------------------------------

def _paste(dst: np.ndarray, sprite_rgb: np.ndarray, sprite_a: np.ndarray, top: int, left: int,
           ) -> tuple[tuple[slice, slice], tuple[slice, slice]] | None:
    """Composite a premultiplied sprite over ``dst`` at (top, left); returns the (dst, src) slices or None."""
    h, w = sprite_a.shape
    H, W = dst.shape[:2]
    y0, x0, y1, x1 = max(0, top), max(0, left), min(H, top + h), min(W, left + w)
    if y0 >= y1 or x0 >= x1:
        return None
    d = (slice(y0, y1), slice(x0, x1))
    s = (slice(y0 - top, y1 - top), slice(x0 - left, x1 - left))
    a = sprite_a[s][..., None]
    dst[d] = dst[d] * (1.0 - a) + sprite_rgb[s]
    return d, s


@dataclass
class _Shot:
    """A composited window of the panorama around one person, ready to crop and develop."""

    rgb: np.ndarray  # (h, w, 3) float32
    labels: np.ndarray  # (h, w) uint8
    roles: np.ndarray  # (h, w) uint8, ROLES
    box: tuple[float, float, float, float]  # crop box within the window
    occlusion: float  # fraction of the person's own pixels hidden by occluders


def _crop_box(rng: np.random.Generator, person_h: float, cx: float, foot_y: float, aspect: float, d: float,
              junk: str | None = None, tight: bool = False) -> tuple[float, float, float, float]:
    """A detector's box (x0, y0, x1, y1) in scene pixels around a person standing at (cx, foot_y).

    ``tight`` (renderer 2): boxes fit as Market-1501's detector's do, the person filling about the whole
    height, and a box shorter than the person cuts off the feet more often than the head.
    """
    fill = rng.uniform(0.84 - 0.06 * d, 0.97)  # fraction of the box height the person fills
    if tight and junk is None:
        fill = rng.uniform(0.88 - 0.04 * d, 1.04)
    if junk == "loose":
        fill = rng.uniform(0.5, 0.62)
    elif junk == "part":
        fill = rng.uniform(1.8, 2.8)
    h = person_h / fill
    w = h * aspect
    x_c = cx + rng.normal(0.0, (0.03 + 0.05 * d) * w)
    slack = max(h - person_h, 0.0)
    bottom = foot_y + slack * rng.uniform(0.25, 0.55) + rng.normal(0.0, 0.02 * h)
    if tight and junk is None:
        bottom -= max(person_h - h, 0.0) * rng.uniform(0.6, 1.0)
    if junk == "shifted":
        x_c = cx + rng.choice((-1, 1)) * rng.uniform(0.45, 0.7) * w
    elif junk == "part":  # a box around the upper or lower half of the body
        bottom = foot_y - person_h * (rng.uniform(0.0, 0.1) if rng.random() < 0.5 else rng.uniform(0.45, 0.55))
        bottom += h * 0.5 * rng.uniform(0.0, 0.2)
    elif junk == "loose":
        x_c = cx + rng.normal(0.0, 0.2 * w)
        bottom = foot_y + slack * rng.uniform(0.1, 0.5)
    return x_c - w / 2, bottom - h, x_c + w / 2, bottom


def _shoot(scene: Scene, sprite: Sprite, cx: float, foot_y: float, box: tuple[float, float, float, float],
           crowd: tuple[list[Sprite], list[Sprite]], rng: np.random.Generator, d: float) -> _Shot:
    """Composite the person (and maybe passers-by) at (cx, foot_y) in ``scene`` within ``box``.

    ``crowd`` holds (near, far) passer-by sprites: near ones occlude, far ones are background.
    """
    Hs, Ls = scene.front_alpha.shape
    x0, y0, x1, y1 = box
    # An integer window around the box, clipped to the panorama (a box past its edge is shifted back in).
    wx0, wx1 = int(np.floor(x0)) - 1, int(np.ceil(x1)) + 1
    wy0, wy1 = int(np.floor(y0)) - 1, int(np.ceil(y1)) + 1
    dx = max(0, -wx0) - max(0, wx1 - Ls)
    dy = max(0, -wy0) - max(0, wy1 - Hs)
    wx0, wx1, wy0, wy1 = wx0 + dx, wx1 + dx, wy0 + dy, wy1 + dy
    if wx0 < 0 or wy0 < 0 or wx1 > Ls or wy1 > Hs:  # a box larger than the panorama: clamp it
        wx0, wy0, wx1, wy1 = max(wx0, 0), max(wy0, 0), min(wx1, Ls), min(wy1, Hs)
    box = (float(np.clip(x0 + dx - wx0, 0, wx1 - wx0 - 1)), float(np.clip(y0 + dy - wy0, 0, wy1 - wy0 - 1)),
           float(np.clip(x1 + dx - wx0, 1, wx1 - wx0)), float(np.clip(y1 + dy - wy0, 1, wy1 - wy0)))
    rgb = scene.background[wy0:wy1, wx0:wx1].copy()
    labels = np.zeros(rgb.shape[:2], np.uint8)
    roles = np.zeros(rgb.shape[:2], np.uint8)
    px, py = cx - wx0, foot_y - wy0  # the person's foot in window coordinates
    person_h = sprite.alpha.shape[0]

    # Contact shadow: a soft dark ellipse under the feet (computed only around them).
    r0, r1 = max(0, int(py - 0.08 * person_h)), min(rgb.shape[0], int(py + 0.08 * person_h) + 1)
    c0, c1 = max(0, int(px - 0.4 * person_h)), min(rgb.shape[1], int(px + 0.4 * person_h) + 1)
    if r0 < r1 and c0 < c1:
        yy = np.arange(r0, r1, dtype=np.float32)[:, None] + 0.5 - py
        xx = np.arange(c0, c1, dtype=np.float32)[None, :] + 0.5 - px
        shadow = np.exp(-((xx / (0.16 * person_h)) ** 2 + (yy / (0.025 * person_h)) ** 2))
        rgb[r0:r1, c0:c1] *= (1.0 - 0.45 * shadow)[..., None]

    # Passers-by further away: smaller, higher in the image, part of the background.
    near, far = crowd
    box_w = box[2] - box[0]
    for _ in range(min(int(rng.poisson(0.2 + 0.4 * d)), 2)):
        other = far[int(rng.integers(len(far)))]
        at_y, at_x = py - rng.uniform(0.04, 0.2) * person_h, px + rng.uniform(-0.8, 0.8) * box_w
        placed = _paste(rgb, other.rgb, other.alpha, int(round(at_y - other.foot[1])),
                        int(round(at_x - other.foot[0])))
        if placed is not None:
            roles[placed[0]][other.alpha[placed[1]] > 0.5] = OTHERS
    # A passer-by between the camera and the person occludes one side.
    passer = near[int(rng.integers(len(near)))] if rng.random() < 0.04 + 0.12 * d else None
    if passer is not None:
        at_y = py + rng.uniform(0.03, 0.1) * person_h
        at_x = px + rng.choice((-1, 1)) * rng.uniform(0.35, 0.65) * box_w
        passer_at = (int(round(at_y - passer.foot[1])), int(round(at_x - passer.foot[0])))

    top, left = int(round(py - sprite.foot[1])), int(round(px - sprite.foot[0]))
    placed = _paste(rgb, sprite.rgb, sprite.alpha, top, left)
    own = 0
    if placed is not None:
        dsl, ssl = placed
        own_mask = sprite.labels[ssl] > 0
        labels[dsl][own_mask] = sprite.labels[ssl][own_mask]
        roles[dsl][own_mask] = TARGET
        own = int(own_mask.sum())

    # Scene objects in front of the walking line.
    fa = scene.front_alpha[wy0:wy1, wx0:wx1]
    if fa.any():
        rgb = rgb * (1.0 - fa[..., None]) + scene.front_rgb[wy0:wy1, wx0:wx1]
        labels[fa > 0.5] = 0
        roles[fa > 0.5] = OCCLUDERS
    if passer is not None:
        placed = _paste(rgb, passer.rgb, passer.alpha, *passer_at)
        if placed is not None:
            labels[placed[0]][passer.alpha[placed[1]] > 0.5] = 0
            roles[placed[0]][passer.alpha[placed[1]] > 0.5] = OTHERS
    visible = int((labels > 0).sum())
    occlusion = 1.0 - visible / own if own else 1.0
    return _Shot(rgb, labels, roles, box, float(occlusion))


# One unit ---------------------------------------------------------------------------

def _file_name(pid: int, camera: int, frame: int, detection: int) -> str:
    """Market-1501's ``PPPP_cCsS_FFFFFF_NN.jpg`` (``-1_c...`` for junk), camera 0-based in, 1-based out."""
    seq = 1 + frame * 6 // MAX_FRAMES
    head = "-1" if pid == -1 else f"{pid:04d}"
    return f"{head}_c{camera + 1}s{seq}_{frame:06d}_{detection:02d}.jpg"


def sprite_digest(sprite: Sprite) -> str:
    """A short digest of a sprite's pixels (colour and coverage), the same for its mirror image.

    Two images with one digest show the very same person pixels, at most mirrored.
    """
    digests = []
    for s in (sprite, sprite.flipped()):
        h = hashlib.blake2b(digest_size=8)
        h.update(np.ascontiguousarray(s.rgb).tobytes())
        h.update(np.ascontiguousarray(s.alpha).tobytes())
        digests.append(h.hexdigest())
    return min(digests)


def _pose_sprites(ident: Identity, t: _Tracklet, count: int, person_px: float, rng: np.random.Generator,
                  ) -> tuple[list[Sprite], float]:
    """Renderer 2: ``count`` sprites of ``ident`` along tracklet ``t``, each its own rendering.

    The tracklet draws one pixel scale (the person nearer to or further from the camera) and one light
    side; each image its own gait phase (continuous, going on from the tracklet's start and step), stride,
    arm swing and a little light jitter. Returns the sprites and the nominal pixel height they are drawn at.
    """
    px = person_px * float(np.exp(rng.normal(0.0, 0.07)))
    light = rng.normal(0.1, 0.12)
    phases = (t.phase0 + np.arange(count) * t.phase_step + rng.uniform(-0.5, 0.5, count)) % NUM_PHASES
    sprites = render_poses(ident, t.view, phases, px, texture_for(ident, px),
                           stride=np.exp(rng.normal(0.0, 0.1, count)), arm_swing=np.exp(rng.normal(0.0, 0.2, count)),
                           light=light + rng.normal(0.0, 0.03, count), detail=CLOTH_DETAIL)
    return sprites, px


def _render_unit(unit: Unit) -> dict:
    """Render and write every image of ``unit``; returns its identity and image records."""
    ctx = _CTX
    assert ctx is not None, "worker context not initialised"
    cfg = ctx.config
    d = cfg.difficulty
    # Independent streams per unit: the person, the plan, and the per-image randomness.
    seeds = np.random.SeedSequence(entropy=[ctx.seed, 7919], spawn_key=(unit.index,))
    # (The fourth stream, renderer 2's poses, leaves the first three as renderer 1 draws them.)
    id_rng, plan_rng, rng, pose_rng = (np.random.default_rng(s) for s in seeds.spawn(4))
    ident = sample_identity(id_rng, d)
    tracklets = _plan_tracklets(unit, plan_rng, ctx)

    # Which image of each camera is the query (test identities): one tracklet, one image.
    queries: set[tuple[int, int]] = set()
    if unit.role == "test":
        for cam in sorted({t.camera for t in tracklets}):
            tr = [t for t in tracklets if t.camera == cam]
            t = tr[int(plan_rng.integers(len(tr)))]
            queries.add((t.index, int(plan_rng.integers(t.num_images))))

    size = (cfg.height, cfg.width)
    person_px = PERSON_HEIGHT * cfg.height
    # sprites[t.index]: the sprite of each image of tracklet t, then (renderer 2) of its junk crops;
    # heights[t.index]: the person's height in scene pixels.
    if cfg.renderer == 1:
        sprites, junk_sources = _cached_pose_sprites(ident, tracklets, person_px), None
        heights = {t.index: person_px * ident.build.height for t in tracklets}
    else:
        # Junk crops' source images are drawn first, so that each tracklet renders its junk poses in its batch.
        flat = [(t.index, k) for t in tracklets for k in range(t.num_images)]
        junk_sources = [flat[int(pose_rng.integers(len(flat)))] for _ in range(unit.num_junk)]
        sprites, heights = {}, {}
        for t in tracklets:
            extra = sum(1 for i, _ in junk_sources if i == t.index)
            sprites[t.index], px = _pose_sprites(ident, t, t.num_images + extra, person_px, pose_rng)
            heights[t.index] = px * ident.build.height
    base_frame = unit.index * ctx.frame_stride
    records: list[dict] = []
    split_default = {"train": "train", "test": "gallery", "gallery": "gallery", "distractor": "gallery"}[unit.role]
    pid = 0 if unit.role == "distractor" else unit.pid
    shots = {}  # (tracklet index, k) -> (tracklet, cx, foot_y, sprite, frame) of each image, for the junk crops

    for t in tracklets:
        scene, camera = ctx.scenes[t.camera], ctx.cameras[t.camera]
        person_h = heights[t.index]
        for k in range(t.num_images):
            sprite = sprites[t.index][k]
            if t.view == "side" and t.direction < 0:
                sprite = sprite.flipped()
            cx = t.x + t.direction * t.speed * (k - (t.num_images - 1) / 2)
            foot_y = scene.foot_y + t.foot_dy
            box = _crop_box(rng, person_h, cx, foot_y, cfg.width / cfg.height, d, tight=cfg.renderer >= 2)
            shot = _shoot(scene, sprite, cx, foot_y, box, ctx.crowd, rng, d)
            split = "query" if (t.index, k) in queries else split_default
            frame = base_frame + t.frame0 + k * t.frame_step
            name = _file_name(pid, t.camera, frame, 1)
            records.append(_write(ctx, split, name, shot, camera, rng, t.exposure, size, unit, t, cx, sprite))
            shots[(t.index, k)] = (t, cx, foot_y, sprite, frame)

    # Junk: badly placed boxes around this person (gallery, identity -1).
    next_extra = {t.index: t.num_images for t in tracklets}  # renderer 2: the next junk sprite of a tracklet
    shot_list = list(shots.values())
    for j in range(unit.num_junk):
        if junk_sources is None:
            t, cx, foot_y, sprite, frame = shot_list[int(rng.integers(len(shot_list)))]
        else:
            t, cx, foot_y, _, frame = shots[junk_sources[j]]
            sprite = sprites[t.index][next_extra[t.index]]
            next_extra[t.index] += 1
            if t.view == "side" and t.direction < 0:
                sprite = sprite.flipped()
        person_h = heights[t.index]
        scene, camera = ctx.scenes[t.camera], ctx.cameras[t.camera]
        for _attempt in range(4):
            kind = str(rng.choice(("shifted", "loose", "part")))
            box = _crop_box(rng, person_h, cx, foot_y, cfg.width / cfg.height, d, junk=kind)
            shot = _shoot(scene, sprite, cx, foot_y, box, ctx.crowd, rng, d)
            labels = resample_labels(shot.labels, shot.box, size)
            if (labels > 0).mean() > 0.03:  # keep some of the person in view
                break
        name = _file_name(-1, t.camera, frame, 2 + j)
        records.append(_write(ctx, "gallery", name, shot, camera, rng, t.exposure, size, unit, t, cx, sprite,
                              junk=kind))

    return {"unit": unit.index, "pid": pid, "role": unit.role, "attributes": ident.to_meta(), "images": records}


def _cached_pose_sprites(ident: Identity, tracklets: list[_Tracklet], person_px: float) -> dict[int, list[Sprite]]:
    """Renderer 1: the sprite of each image of each tracklet, from one rendering per (viewpoint, gait phase).

    Every pose the plan needs is rendered once, in one batch per viewpoint, and shared by all images in that
    pose, across tracklets and cameras.
    """
    texture = texture_for(ident, person_px)
    needed: dict[str, set[int]] = {}
    for t in tracklets:
        needed.setdefault(t.view, set()).update((t.phase0 + k * t.phase_step) % NUM_PHASES
                                                for k in range(t.num_images))
    poses: dict[tuple[str, int], Sprite] = {}
    for view in sorted(needed):
        phases = sorted(needed[view])
        poses.update(zip(((view, p) for p in phases), render_poses(ident, view, phases, person_px, texture)))
    return {t.index: [poses[(t.view, (t.phase0 + k * t.phase_step) % NUM_PHASES)] for k in range(t.num_images)]
            for t in tracklets}


def _write(ctx: _Context, split: str, name: str, shot: _Shot, camera: CameraModel, rng: np.random.Generator,
           exposure: float, size: tuple[int, int], unit: Unit, t: _Tracklet, cx: float, sprite: Sprite,
           junk: str = "") -> dict:
    """Develop and write one image, its mask and (renderer 2) its role map; return its metadata record."""
    image = develop(shot.rgb, shot.box, camera, size, rng, exposure * np.exp(rng.normal(0.0, 0.02)),
                    noise=ctx.noise[camera.camera])
    labels = resample_labels(shot.labels, shot.box, size)
    rel = f"{SPLIT_FOLDERS[split]}/{name}"
    (ctx.out / rel).write_bytes(encode_jpeg(image, camera.jpeg_quality))
    write_label_map((ctx.out / MASK_FOLDER / rel).with_suffix(".png"), labels)
    if ctx.config.renderer >= 2:
        write_label_map((ctx.out / ROLE_FOLDER / rel).with_suffix(".png"), resample_labels(shot.roles, shot.box, size))
    return {"path": rel, "unit": unit.index, "camid": t.camera, "tracklet": t.index,
            "x": round(cx / ctx.config.height, 2), "occlusion": round(shot.occlusion, 2),
            "foreground": round(float((labels > 0).mean()), 2), "junk": junk, "sprite": sprite_digest(sprite)}


# The dataset ---------------------------------------------------------------------------

def plan_units(config: SynthConfig, seed: int) -> list[Unit]:
    """The units of a dataset, in order: train, test, gallery-only identities, then distractors.

    Junk crops are spread over test identities and distractor images over
    distractor people (2.5 images each on average) so that both totals are exact.
    """
    rng = np.random.default_rng(stable_seed("units", seed))
    units: list[Unit] = []
    pid = 1
    for role, count in (("train", config.num_train_ids), ("test", config.num_test_ids),
                        ("gallery", config.num_gallery_only_ids)):
        for _ in range(count):
            units.append(Unit(len(units), role, pid))
            pid += 1
    if config.num_junk_images:
        test = [i for i, u in enumerate(units) if u.role == "test"]
        junk = rng.multinomial(config.num_junk_images, np.full(len(test), 1.0 / len(test)))
        for i, n in zip(test, junk):
            units[i] = Unit(units[i].index, "test", units[i].pid, num_junk=int(n))
    n = config.num_distractor_images
    if n:
        people = max(1, int(round(n / 2.5)))
        extra = rng.multinomial(n - people, np.full(people, 1.0 / people)) if n > people else np.zeros(people, int)
        counts = [1 + int(e) for e in extra] if n >= people else [1] * n
        for c in counts:
            units.append(Unit(len(units), "distractor", 0, num_images=c))
    return units


def build_context(config: SynthConfig, seed: int, out: Path) -> tuple[_Context, World]:
    """Worlds, camera scenes and models, and the crowd of passers-by: everything shared by the units."""
    unit = config.height
    world = build_world(config.scene_family, seed, config.scene_width * config.width, unit)
    scenes = [render_scene(world, c, unit, config.difficulty) for c in range(config.num_cameras)]
    if config.renderer >= 2:
        scenes = [replace(s, background=street_grade(s.background), front_rgb=street_grade(s.front_rgb))
                  for s in scenes]
    cameras = [sample_camera(c, np.random.default_rng(stable_seed("camera", config.scene_family, seed, c)),
                             config.difficulty, low_res=(c + 1) in config.low_res_cameras, renderer=config.renderer)
               for c in range(config.num_cameras)]
    rng = np.random.default_rng(stable_seed("crowd", seed))
    crowd: tuple[list[Sprite], list[Sprite]] = ([], [])
    for i in range(2 * CROWD_SIZE):
        scale = 1.0 if i < CROWD_SIZE else rng.uniform(0.6, 0.85)  # near ones, then far ones
        sprite = render_figure(sample_identity(rng, config.difficulty), str(rng.choice(("front", "back", "side"))),
                               int(rng.integers(NUM_PHASES)), PERSON_HEIGHT * unit * scale)
        crowd[i >= CROWD_SIZE].append(sprite.flipped() if rng.random() < 0.5 else sprite)
    noise = [noise_bank(cam, (config.height, config.width),
                        np.random.default_rng(stable_seed("noise", seed, cam.camera))) for cam in cameras]
    units = plan_units(config, seed)
    stride = MAX_FRAMES // max(len(units), 1)
    # Frame steps are at most 8 and gaps between tracklets at most 20 (see _plan_tracklets).
    most = max([config.tracklets_per_camera[1] * (config.images_per_tracklet[1] * 8 + 20)]
               + [u.num_images * 8 + 20 for u in units if u.role == "distractor"])
    if most > stride:
        raise ValueError(f"{len(units)} people with up to {most} frames each do not fit Market-1501's six-digit "
                         "frame numbers; use fewer identities, tracklets or images per tracklet")
    return _Context(config, seed, out, scenes, cameras, crowd, noise, stride), world


def default_workers(num_images: int) -> int:
    """Worker processes worth starting: none for a small job (start-up would dominate), else one per core."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return 0 if num_images < 1500 or cores < 2 else min(cores, 8)


def _expected_images(config: SynthConfig) -> int:
    """A rough image count (for choosing the number of workers)."""
    per_cam = np.mean(config.tracklets_per_camera) * np.mean(config.images_per_tracklet)
    return int(per_cam * (config.num_train_ids * np.mean(config.cameras_per_train_id)
                          + config.num_test_ids * np.mean(config.cameras_per_test_id)
                          + config.num_gallery_only_ids) + config.num_distractor_images + config.num_junk_images)


def generate(out_dir: str | os.PathLike, preset: str = "tiny", seed: int = 0, progress: bool = True, *,
             workers: int | None = None, overwrite: bool = False, **overrides: object) -> Path:
    """Write a SynthReID dataset to ``out_dir`` and return its path.

    Args:
        preset: ``tiny``, ``small``, ``market`` or ``duke`` (see :mod:`.presets`).
        seed: the same preset, seed and overrides give byte-identical files.
        progress: show a progress bar.
        workers: worker processes (``None``: one per core for large jobs, 0: in this process).
            The output does not depend on it.
        overwrite: replace an existing dataset in ``out_dir`` (its split,
            mask and metadata files only); otherwise a non-empty split folder
            is an error.
        overrides: :class:`SynthConfig` fields, e.g. ``bg_share=0.8``, ``scene_family="B"``.

    Layout: ``bounding_box_train/``, ``bounding_box_test/``, ``query/`` with
    Market-1501 file names, ``masks/`` mirroring them with PNG part labels,
    ``roles/`` (renderer 2) mirroring them with PNG role labels (:data:`ROLES`),
    and ``meta.json``.
    """
    config = make_config(preset, **overrides)
    out = Path(out_dir)
    owned = [*SPLIT_FOLDERS.values(), MASK_FOLDER, ROLE_FOLDER, META_FILE, COMPLETE_MARKER]
    for name in owned:
        path = out / name
        if path.is_dir() and any(path.iterdir()) or path.is_file():
            if not overwrite:
                raise FileExistsError(f"{path} exists; pass overwrite=True (--overwrite) to replace the dataset")
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    for folder in SPLIT_FOLDERS.values():
        (out / folder).mkdir(parents=True, exist_ok=True)
        (out / MASK_FOLDER / folder).mkdir(parents=True, exist_ok=True)
        if config.renderer >= 2:
            (out / ROLE_FOLDER / folder).mkdir(parents=True, exist_ok=True)

    ctx, world = build_context(config, seed, out)
    units = plan_units(config, seed)
    if workers is None:
        workers = default_workers(_expected_images(config))
    bar = tqdm(total=len(units), desc=f"SynthReID {preset}", unit="person", disable=not progress)
    results = []
    if workers <= 0:
        _init_worker(ctx)
        for unit in units:
            results.append(_render_unit(unit))
            bar.update()
    else:
        # fork shares the pre-rendered scenes with the workers without copying them.
        method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
        with mp.get_context(method).Pool(workers, initializer=_init_worker, initargs=(ctx,)) as pool:
            for result in pool.imap(_render_unit, units, chunksize=8):
                results.append(result)
                bar.update()
    bar.close()
    _write_meta(out, preset, seed, config, world, ctx, results)
    return out


def _write_meta(out: Path, preset: str, seed: int, config: SynthConfig, world: World, ctx: _Context,
                results: list[dict]) -> None:
    """``meta.json``: config, cameras and scenes, identities, and one column per image field."""
    columns = ("path", "unit", "camid", "tracklet", "x", "occlusion", "foreground", "junk", "sprite")
    images = {c: [r[c] for res in results for r in res["images"]] for c in columns}
    meta = {
        "generator": "SynthReID", "version": GENERATOR_VERSION, "preset": preset,
        "seed": seed, "config": config.to_dict(), "config_key": config_key(config, seed),
        "units": {"x": "scene position in image heights along the camera's strip",
                  "occlusion": "fraction of the person hidden by occluders",
                  "foreground": "fraction of the image labelled as the person",
                  "sprite": "digest of the person's pixels before compositing (sprite_digest)"},
        "world": {"id": world.world_id, "family": world.family, "length": round(world.length / config.height, 3),
                  "walls": list(world.walls), "grounds": list(world.grounds),
                  "landmarks": [[m.kind, round(m.x / config.height, 3), round(m.width, 3)] for m in world.landmarks]},
        "cameras": [{"camera": c + 1, "scene": s.meta, "model": m.to_meta()}
                    for c, (s, m) in enumerate(zip(ctx.scenes, ctx.cameras))],
        "identities": [{k: r[k] for k in ("unit", "pid", "role", "attributes")} for r in results],
        "images": images,
    }
    (out / META_FILE).write_text(json.dumps(meta, separators=(",", ":")))


def ensure(preset: str = "tiny", seed: int = 0, cache_dir: str | os.PathLike | None = None, *,
           progress: bool = True, workers: int | None = None, **overrides: object) -> Path:
    """The path of a generated dataset, generating it into the cache first if needed.

    The folder is ``<cache_dir>/<preset>-s<seed>-<key>``, where the key hashes
    the full config, seed and generator version, so changing any knob
    gives a new folder. A folder without the completion marker (an
    interrupted run) is deleted and regenerated. ``cache_dir`` defaults
    to ``REPO_ROOT/.cache/synth``. Two processes asking for the same new
    dataset (notebooks run side by side) generate it once: the second
    waits on a lock beside the folder, then reads what the first wrote.
    """
    from ...engine.runlock import build_once
    from ...paths import REPO_ROOT

    config = make_config(preset, **overrides)
    root = Path(cache_dir) if cache_dir is not None else REPO_ROOT / ".cache" / "synth"
    out = root / f"{preset}-s{seed}-{config_key(config, seed)[:12]}"

    def build():
        if out.exists():  # an interrupted generation
            shutil.rmtree(out)
        generate(out, preset, seed, progress, workers=workers, **overrides)
        (out / COMPLETE_MARKER).write_text(config_key(config, seed) + "\n")

    # The lock sits beside the folder, not in it: an interrupted folder is deleted whole.
    build_once((out / COMPLETE_MARKER).is_file, build, root, f"{out.name}.lock", f"generating {out.name} in")
    return out

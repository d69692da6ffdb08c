"""SynthReID's knobs (:class:`SynthConfig`) and its named presets.

==========  ==========================================================================
preset      what it is for (image counts at seed 0)
==========  ==========================================================================
``tiny``    CI and unit tests: 16 + 16 identities, 4 cameras, 334 images, about 1 s.
``small``   the ``cpu`` profile: 150 + 150 identities, 6 cameras, 5,617 images
            (2,385 train, 527 query, 2,705 gallery), about 10 s on two cores.
``market``  Market-1501's shape: 751 + 750 identities, 6 cameras (camera 6 low
            resolution); 11,872 train, 3,366 query and 18,290 gallery images,
            the gallery including 2,793 distractors (0000) and 3,819 junk crops
            (-1) (Market-1501: 12,936 / 3,368 / 19,732); about a minute.
``duke``    DukeMTMC-reID's shape: 702 + 702 identities plus 408 labelled
            gallery-only identities seen by one camera, 8 cameras, longer
            tracklets, no junk; 17,458 train, 2,074 query, 18,468 gallery
            (DukeMTMC-reID: 16,522 / 2,228 / 17,661).
==========  ==========================================================================

``difficulty`` (0..1) turns several dials at once: how many clothes are dark
or neutral, how strongly cameras differ in colour cast, exposure, blur and
noise, how often scene objects and other pedestrians occlude, and how much
the detector's crops jitter. ``bg_share`` (0..1) is the probability that a
tracklet is filmed at the person's own habitual scene position instead of an
independent one, in every camera (see :mod:`.scene`).

``renderer`` picks how people are drawn. Renderer 1 (the default, what every
committed ``cpu`` result was trained on) draws each person at 3 viewpoints x 8
gait phases at one pixel scale and lighting, so images of a person in
different cameras can share the very same person pixels. Renderer 2 draws
every image of a person as its own rendering: the gait phase, arm swing and
light side vary continuously per image and the pixel scale per tracklet (see
:func:`.figure.render_poses`), and it writes a role map per image (target
person, other people, occluders, background; :data:`.generate.ROLES`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from dataclasses import dataclass

# Bump when the generator's output changes for the same config, so caches regenerate.
GENERATOR_VERSION = 1
RENDERERS = (1, 2)  # SynthConfig.renderer: see the module docstring


@dataclass(frozen=True)
class SynthConfig:
    """Everything that determines a SynthReID dataset (with the seed).

    Ranges are inclusive ``(min, max)`` integer pairs, drawn uniformly per
    identity, camera or tracklet.
    """

    num_train_ids: int = 16
    num_test_ids: int = 16
    num_gallery_only_ids: int = 0  # labelled identities seen in one camera, gallery only (DukeMTMC's 408)
    num_distractor_images: int = 12  # identity 0: people outside the labelled set
    num_junk_images: int = 12  # identity -1: bad crops (mostly background, cut-off bodies)
    num_cameras: int = 4
    cameras_per_train_id: tuple[int, int] = (2, 3)
    cameras_per_test_id: tuple[int, int] = (2, 3)
    tracklets_per_camera: tuple[int, int] = (1, 2)
    images_per_tracklet: tuple[int, int] = (2, 3)
    height: int = 128
    width: int = 64
    difficulty: float = 0.5
    bg_share: float = 0.5
    scene_family: str = "A"
    scene_width: int = 14  # length of the scene strip each camera films, in image widths
    low_res_cameras: tuple[int, ...] = ()  # 1-based cameras that resolve about half the output resolution
    renderer: int = 1  # 1: cached poses (the committed studies' data); 2: every image its own rendering

    def __post_init__(self) -> None:
        from .scene import FAMILIES

        problems = []
        for name in ("num_train_ids", "num_test_ids", "num_gallery_only_ids", "num_distractor_images",
                     "num_junk_images"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0")
        if self.num_train_ids + self.num_test_ids + self.num_gallery_only_ids > 9999:
            problems.append("at most 9999 labelled identities fit Market-1501's 4-digit names")
        if self.num_test_ids == 0 and (self.num_junk_images or self.num_gallery_only_ids):
            problems.append("junk images and gallery-only identities need test identities")
        if not 2 <= self.num_cameras <= 9:
            problems.append("num_cameras must be 2..9 (one digit in Market-1501 names)")
        for name in ("cameras_per_train_id", "cameras_per_test_id", "tracklets_per_camera", "images_per_tracklet"):
            lo, hi = getattr(self, name)
            if not 1 <= lo <= hi:
                problems.append(f"{name} must be (min, max) with 1 <= min <= max")
        if self.cameras_per_test_id[0] < 2:
            problems.append("cameras_per_test_id min must be >= 2: every query needs a match in another camera")
        if max(self.cameras_per_train_id[1], self.cameras_per_test_id[1]) > self.num_cameras:
            problems.append("cameras per identity cannot exceed num_cameras")
        if self.tracklets_per_camera[1] > 6 or self.images_per_tracklet[1] > 40:
            problems.append("at most 6 tracklets per camera and 40 images per tracklet")
        if self.height < 32 or self.width < 16:
            problems.append("images must be at least 32 x 16")
        if not 0.0 <= self.difficulty <= 1.0 or not 0.0 <= self.bg_share <= 1.0:
            problems.append("difficulty and bg_share must be in [0, 1]")
        if self.scene_family not in FAMILIES:
            problems.append(f"scene_family must be one of {', '.join(FAMILIES)}")
        if self.scene_width < 4:
            problems.append("scene_width must be >= 4 image widths")
        if any(not 1 <= c <= self.num_cameras for c in self.low_res_cameras):
            problems.append("low_res_cameras are 1-based camera numbers within num_cameras")
        if self.renderer not in RENDERERS:
            problems.append(f"renderer must be one of {', '.join(map(str, RENDERERS))}")
        if problems:
            raise ValueError("invalid SynthConfig: " + "; ".join(problems))

    def to_dict(self) -> dict[str, object]:
        """JSON-ready field values (tuples as lists).

        ``renderer`` is left out at its default 1, so renderer-1 datasets keep the cache key and metadata
        they had before renderer 2 existed (their images are unchanged).
        """
        out = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}
        if out["renderer"] == 1:
            del out["renderer"]
        return out


PRESETS: dict[str, SynthConfig] = {
    "tiny": SynthConfig(),
    "small": SynthConfig(
        num_train_ids=150, num_test_ids=150, num_distractor_images=200, num_junk_images=250, num_cameras=6,
        cameras_per_train_id=(2, 4), cameras_per_test_id=(2, 5), tracklets_per_camera=(1, 2),
        images_per_tracklet=(2, 5), scene_width=24, low_res_cameras=(6,)),
    "market": SynthConfig(
        num_train_ids=751, num_test_ids=750, num_distractor_images=2793, num_junk_images=3819, num_cameras=6,
        cameras_per_train_id=(2, 5), cameras_per_test_id=(3, 6), tracklets_per_camera=(1, 2),
        images_per_tracklet=(2, 4), scene_width=48, low_res_cameras=(6,)),
    "duke": SynthConfig(
        num_train_ids=702, num_test_ids=702, num_gallery_only_ids=408, num_distractor_images=0, num_junk_images=0,
        num_cameras=8, cameras_per_train_id=(2, 4), cameras_per_test_id=(2, 4), tracklets_per_camera=(1, 2),
        images_per_tracklet=(3, 8), scene_width=48),
}


def make_config(preset: str = "tiny", **overrides: object) -> SynthConfig:
    """``PRESETS[preset]`` with ``overrides`` (SynthConfig fields) replaced.

    Raises ``ValueError`` for an unknown preset or field, naming the valid ones.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown SynthReID preset {preset!r}; choose one of {', '.join(PRESETS)}")
    base = PRESETS[preset]
    valid = [f.name for f in dataclasses.fields(SynthConfig)]
    unknown = sorted(set(overrides) - set(valid))
    if unknown:
        raise ValueError(f"unknown SynthReID option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                         f"valid options are: {', '.join(valid)}")
    fixed = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
    return dataclasses.replace(base, **fixed)


def config_key(config: SynthConfig, seed: int) -> str:
    """A hex digest of the config, seed and generator version: the cache key of a dataset."""
    blob = json.dumps({"config": config.to_dict(), "seed": seed, "version": GENERATOR_VERSION}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def parse_overrides(items: list[str]) -> dict[str, object]:
    """``["bg_share=0.8", "images_per_tracklet=2,6"]`` to typed override values (for the command line)."""
    hints = typing.get_type_hints(SynthConfig)
    out: dict[str, object] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep:
            raise ValueError(f"--set expects key=value, got {item!r}")
        if key not in hints:
            make_config("tiny", **{key: None})  # raises with the list of valid keys
        kind = hints[key]
        if kind is int:
            out[key] = int(text)
        elif kind is float:
            out[key] = float(text)
        elif kind is str:
            out[key] = text.strip()
        else:  # tuples of ints
            out[key] = tuple(int(v) for v in text.replace(" ", "").split(",") if v)
    return out

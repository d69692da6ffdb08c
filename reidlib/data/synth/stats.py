"""Image statistics, to compare SynthReID with real crops (CUHK01, Market-1501).

:func:`image_statistics` summarises a list of images: the mean per-channel
colour histogram, mean colour, saturation and brightness, the edge density,
the two measures of fine detail SynthReID v2 is held to (mean absolute
gradient, variance of the Laplacian), the histogram of saturated hues, and,
where part masks exist, the fraction of each image that is the person. Every
image is first resized to one size (128x64, bilinear with antialiasing, as
the training pipeline resizes), so datasets of different resolutions compare
fairly. :func:`crops_to_measure` picks the crops to measure from a dataset;
:func:`compare_statistics` puts two summaries side by side and
:func:`realism_table` holds a set of summaries to :data:`REALISM_GOALS`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from scipy import ndimage

from ..masks import MaskSource


@dataclass
class ImageStats:
    """Averages over a set of images (colour values in [0, 1])."""

    num_images: int
    colour_histogram: np.ndarray  # (3, bins): mean R, G, B histograms, each row summing to 1
    mean_rgb: np.ndarray  # (3,)
    saturation: float  # mean HSV saturation
    brightness: float  # mean HSV value
    edge_density: float  # fraction of pixels whose gradient magnitude exceeds the threshold
    foreground_fraction: float | None  # mean fraction of pixels labelled as the person (None: no masks)
    mean_abs_gradient: float  # mean gradient magnitude of the grey image, in grey levels 0..255 per pixel
    laplacian_variance: float  # mean over images of the variance of the grey image's Laplacian (0..255 levels)
    hue_histogram: np.ndarray  # (HUE_BINS,): hues of the saturated pixels of all images, summing to 1

    def summary(self) -> dict[str, float | None]:
        """The colour and edge statistics as a dict (for a table row; the committed cpu results keep these keys)."""
        return {"images": self.num_images, "mean R": float(self.mean_rgb[0]), "mean G": float(self.mean_rgb[1]),
                "mean B": float(self.mean_rgb[2]), "saturation": self.saturation, "brightness": self.brightness,
                "edge density": self.edge_density, "foreground": self.foreground_fraction}

    def detail(self) -> dict[str, float]:
        """The two measures of fine detail SynthReID v2 is held to (see :data:`REALISM_GOALS`)."""
        return {"mean abs gradient": self.mean_abs_gradient, "Laplacian variance": self.laplacian_variance}


# A pixel's hue counts in the hue histogram when it is coloured enough for its hue to mean something.
HUE_BINS = 12  # 30 degrees each, starting at red
SATURATED = 0.25  # HSV saturation at least this ...
LIT = 0.2  # ... and HSV value at least this


def image_statistics(
    paths: Sequence[str | os.PathLike],
    masks: MaskSource | None = None,
    bins: int = 16,
    size: tuple[int, int] = (128, 64),
    edge_threshold: float = 0.1,
) -> ImageStats:
    """Statistics of the images at ``paths``.

    Args:
        masks: where the images' part masks are (their foreground fraction is
            reported); ``None`` for a dataset without masks.
        bins: bins per colour channel.
        size: (H, W) each image is resized to before measuring.
        edge_threshold: gradient magnitude (grey levels in [0, 1] per pixel)
            above which a pixel counts as an edge.
    """
    if not paths:
        raise ValueError("no images to measure")
    hist, hues = np.zeros((3, bins)), np.zeros(HUE_BINS)
    rgb_sum, sat_sum, val_sum, edge_sum, fg_sum = np.zeros(3), 0.0, 0.0, 0.0, 0.0
    grad_sum, lap_sum = 0.0, 0.0
    for path in paths:
        with Image.open(path) as im:
            small = im.convert("RGB").resize((size[1], size[0]), Image.BILINEAR)
        rgb = np.asarray(small, np.float32) / 255.0
        hsv = np.asarray(small.convert("HSV"), np.float32) / 255.0
        idx = np.minimum((rgb * bins).astype(np.int64), bins - 1)
        for c in range(3):
            hist[c] += np.bincount(idx[..., c].ravel(), minlength=bins) / idx[..., c].size
        rgb_sum += rgb.reshape(-1, 3).mean(0)
        sat_sum += float(hsv[..., 1].mean())
        val_sum += float(hsv[..., 2].mean())
        # Elementwise float64, not a float32 matrix product: BLAS kernels differ between CPUs in the last
        # bits, and a pixel on the threshold then counts on one machine and not on another.
        r, g, b = (rgb[..., c].astype(np.float64) for c in range(3))
        grey = 0.299 * r + 0.587 * g + 0.114 * b
        gy, gx = np.gradient(grey)
        magnitude = np.hypot(gx, gy)
        edge_sum += float((magnitude > edge_threshold).mean())
        grad_sum += 255.0 * float(magnitude.mean())
        lap_sum += float(ndimage.laplace(255.0 * grey).var())
        coloured = (hsv[..., 1] >= SATURATED) & (hsv[..., 2] >= LIT)
        hues += np.bincount(np.minimum((hsv[..., 0][coloured] * HUE_BINS).astype(np.int64), HUE_BINS - 1),
                            minlength=HUE_BINS)
        if masks is not None:
            fg_sum += float((masks.load(path) > 0).mean())
    n = len(paths)
    return ImageStats(
        num_images=n, colour_histogram=hist / n, mean_rgb=rgb_sum / n, saturation=sat_sum / n,
        brightness=val_sum / n, edge_density=edge_sum / n,
        foreground_fraction=fg_sum / n if masks is not None else None,
        mean_abs_gradient=grad_sum / n, laplacian_variance=lap_sum / n,
        hue_histogram=hues / max(hues.sum(), 1.0),
    )


def crops_to_measure(dataset, n: int = 800) -> list[str]:
    """``n`` test images of ``dataset`` (a :class:`reidlib.data.ReIDDataset`), spread evenly over its
    query and gallery in file order. Junk (pid -1) and distractor (pid 0) detections are left out: the
    goals are about pictures of people, and SynthReID and Market-1501 have different shares of both.
    """
    records = [r for r in [*dataset.query, *dataset.gallery] if r.pid > 0]
    if len(records) < n:
        raise ValueError(f"{dataset.name} has {len(records)} test images of people, fewer than the {n} asked for")
    return [str(records[i].path) for i in np.linspace(0, len(records) - 1, n).round().astype(int)]


def histogram_intersection(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over channels of sum(min(a, b)): 1 for identical colour distributions, 0 for disjoint ones."""
    return float(np.minimum(a, b).sum(axis=-1).mean())


def hue_distance(a: ImageStats, b: ImageStats) -> float:
    """L1 distance between two saturated-hue histograms: 0 for the same hues, 2 for disjoint ones."""
    return float(np.abs(a.hue_histogram - b.hue_histogram).sum())


def compare_statistics(a: ImageStats, b: ImageStats) -> dict[str, object]:
    """Both summaries and the intersection of their colour histograms."""
    return {"a": a.summary(), "b": b.summary(),
            "colour histogram intersection": histogram_intersection(a.colour_histogram, b.colour_histogram)}


# SynthReID v2's goals (issue 30), on 800 test crops at 128x64. The issue measured CUHK01 at 14.2 mean absolute
# gradient and 3,035 Laplacian variance with a resize that keeps more aliasing than the training pipeline's; with
# this module's antialiased resize CUHK01 gives 13.9 and 1,639. The gradient goal (11) is kept as written; the
# Laplacian goal is the issue's 1,500 scaled by the same ratio (1,639 / 3,035), which is 810, about Market-1501's
# own 941: the 1,500 taken literally would ask for more fine detail than Market-1501 has.
REALISM_GOALS = {"mean abs gradient": 11.0, "Laplacian variance": 810.0, "saturation within": 0.03,
                 "brightness within": 0.03, "hue distance at most this share of v1's": 0.5}


def realism_table(stats: dict[str, ImageStats], candidate: str, reference: str, before: str) -> pd.DataFrame:
    """Each measure of every dataset in ``stats`` and whether ``candidate`` meets its goal.

    ``reference`` is the real dataset the colour goals are measured against (Market-1501) and
    ``before`` the version the hue goal is relative to (SynthReID v1). One row per measure: a
    column per dataset, ``goal`` (in words) and ``met`` (for ``candidate``).
    """
    for name in (candidate, reference, before):
        if name not in stats:
            raise KeyError(f"no statistics for {name!r}; have {', '.join(stats)}")
    c, ref, old = stats[candidate], stats[reference], stats[before]
    g = REALISM_GOALS
    hue_limit = g["hue distance at most this share of v1's"] * hue_distance(old, ref)
    goals = {
        "mean abs gradient": (f">= {g['mean abs gradient']:g}", c.mean_abs_gradient >= g["mean abs gradient"]),
        "Laplacian variance": (f">= {g['Laplacian variance']:g}", c.laplacian_variance >= g["Laplacian variance"]),
        "saturation": (f"{reference} +- {g['saturation within']:g}",
                       abs(c.saturation - ref.saturation) <= g["saturation within"]),
        "brightness": (f"{reference} +- {g['brightness within']:g}",
                       abs(c.brightness - ref.brightness) <= g["brightness within"]),
        f"hue distance to {reference}": (f"<= {hue_limit:.3f} (half of {before}'s)",
                                          hue_distance(c, ref) <= hue_limit),
    }
    rows = {}
    for measure in goals:
        if measure.startswith("hue distance"):
            rows[measure] = {name: hue_distance(s, ref) for name, s in stats.items()}
        else:
            rows[measure] = {name: {**s.summary(), **s.detail()}[measure] for name, s in stats.items()}
        rows[measure] |= {"goal": goals[measure][0], "met": bool(goals[measure][1])}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "measure"
    return table


def framing_statistics(label_maps: Iterable[np.ndarray], min_pixels: int = 2) -> dict[str, float]:
    """How a crop frames its person, from (H, W) label maps (person where > 0), averaged over the maps.

    A row belongs to the person when it holds at least ``min_pixels`` person pixels (a stray pixel of a
    machine-made parsing map does not move the person's top or bottom). Returns the person's ``top`` and
    ``bottom`` row as fractions of the crop height, its ``height`` (bottom - top), the share of crops whose
    person reaches the last row (``cut at bottom``: feet at or past the box's edge) or the first
    (``cut at top``), and the ``foreground`` fraction of pixels. Maps without a person are left out, and
    counted in ``maps without a person``.
    """
    tops, bottoms, cut_bottom, cut_top, fg, empty = [], [], 0, 0, [], 0
    for labels in label_maps:
        person = np.asarray(labels) > 0
        rows = np.flatnonzero(person.sum(1) >= min_pixels)
        if rows.size == 0:
            empty += 1
            continue
        h = person.shape[0]
        tops.append(rows[0] / h)
        bottoms.append((rows[-1] + 1) / h)
        cut_bottom += rows[-1] == h - 1
        cut_top += rows[0] == 0
        fg.append(person.mean())
    if not tops:
        raise ValueError("no label map holds a person")
    n = len(tops)
    return {"top": float(np.mean(tops)), "bottom": float(np.mean(bottoms)),
            "height": float(np.mean(np.subtract(bottoms, tops))), "cut at bottom": float(cut_bottom / n),
            "cut at top": float(cut_top / n), "foreground": float(np.mean(fg)), "maps without a person": empty}


def role_map_path(image_path: str | os.PathLike, root: str | os.PathLike) -> str:
    """The renderer-2 role map (:data:`.generate.ROLES`) of the SynthReID image at ``image_path`` under ``root``."""
    from .generate import ROLE_FOLDER

    rel = os.path.relpath(image_path, root)
    return str((Path(root) / ROLE_FOLDER / rel).with_suffix(".png"))


def role_shares(role_maps: Iterable[np.ndarray]) -> dict[str, float]:
    """The mean share of a crop's pixels that each role of :data:`.generate.ROLES` holds (background,
    target person, other people, occluders), over renderer-2 role maps; the shares add up to 1.

    A background variant that blanks the target person keeps the other roles: this says how much of
    what it keeps is someone else or something in front of the person rather than scenery.
    """
    from .generate import ROLES

    sums, n = np.zeros(len(ROLES)), 0
    for roles in role_maps:
        roles = np.asarray(roles)
        if roles.max(initial=0) >= len(ROLES):
            raise ValueError(f"a role map holds label {roles.max()}, outside the roles {ROLES}")
        sums += np.bincount(roles.ravel(), minlength=len(ROLES)) / roles.size
        n += 1
    if n == 0:
        raise ValueError("no role maps given")
    return {name: float(sums[k] / n) for k, name in ROLES.items()}

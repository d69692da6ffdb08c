"""Simple image statistics, to compare SynthReID with a real dataset (e.g. CUHK01).

:func:`image_statistics` summarises a list of images: the mean per-channel
colour histogram, mean colour, saturation and brightness, the edge density
(how much fine structure there is), and, where part masks exist, the
fraction of each image that is the person. Every image is first resized to
one size, so datasets of different resolutions compare fairly.
:func:`compare_statistics` puts two summaries side by side.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

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

    def summary(self) -> dict[str, float | None]:
        """The scalar statistics as a dict (for a table row)."""
        return {"images": self.num_images, "mean R": float(self.mean_rgb[0]), "mean G": float(self.mean_rgb[1]),
                "mean B": float(self.mean_rgb[2]), "saturation": self.saturation, "brightness": self.brightness,
                "edge density": self.edge_density, "foreground": self.foreground_fraction}


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
    hist = np.zeros((3, bins))
    rgb_sum, sat_sum, val_sum, edge_sum, fg_sum = np.zeros(3), 0.0, 0.0, 0.0, 0.0
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
        edge_sum += float((np.hypot(gx, gy) > edge_threshold).mean())
        if masks is not None:
            fg_sum += float((masks.load(path) > 0).mean())
    n = len(paths)
    return ImageStats(
        num_images=n, colour_histogram=hist / n, mean_rgb=rgb_sum / n, saturation=sat_sum / n,
        brightness=val_sum / n, edge_density=edge_sum / n,
        foreground_fraction=fg_sum / n if masks is not None else None,
    )


def histogram_intersection(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over channels of sum(min(a, b)): 1 for identical colour distributions, 0 for disjoint ones."""
    return float(np.minimum(a, b).sum(axis=-1).mean())


def compare_statistics(a: ImageStats, b: ImageStats) -> dict[str, object]:
    """Both summaries and the intersection of their colour histograms."""
    return {"a": a.summary(), "b": b.summary(),
            "colour histogram intersection": histogram_intersection(a.colour_histogram, b.colour_histogram)}

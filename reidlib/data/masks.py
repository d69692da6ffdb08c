"""Foreground masks and part labels, stored as PNG label maps beside the images.

A mask tree mirrors the image tree: the mask of ``<image_root>/query/0001_c1s1_001051_00.jpg``
is ``<mask_root>/query/0001_c1s1_001051_00.png``. Each pixel holds a part label:

====  =================
0     background
1     head
2     upper body
3     lower body (legs, feet)
4     accessories (bags)
====  =================

The binary foreground is ``label > 0``. SynthReID writes such trees; for a
real dataset, ``python -m reidlib.data.segment masks`` writes one with the
study's person segmenter, or any human parser's output can be converted to it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

PART_LABELS = {0: "background", 1: "head", 2: "upper body", 3: "lower body", 4: "accessories"}
NUM_LABELS = len(PART_LABELS)


class MaskError(ValueError):
    """A mask is missing, unreadable or does not fit its image."""


def read_label_map(path: str | os.PathLike) -> np.ndarray:
    """A (H, W) uint8 label map from a PNG, checked to hold only known labels."""
    try:
        with Image.open(path) as im:
            labels = np.asarray(im)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise MaskError(f"cannot read mask {path}: {exc}") from exc
    if labels.ndim != 2:
        raise MaskError(f"mask {path} has shape {labels.shape}; expected a single-channel (H, W) label map")
    if labels.size and labels.max() >= NUM_LABELS:
        raise MaskError(f"mask {path} holds label {int(labels.max())}; labels are 0-{NUM_LABELS - 1} ({PART_LABELS})")
    return labels.astype(np.uint8)


def write_label_map(path: str | os.PathLike, labels: np.ndarray) -> None:
    """Save a (H, W) label map as an 8-bit PNG, creating folders as needed."""
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.min() < 0 or labels.max() >= NUM_LABELS:
        raise MaskError(f"a label map must be (H, W) with values 0-{NUM_LABELS - 1}")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(labels.astype(np.uint8), mode="L").save(path)


class MaskSource:
    """Finds the mask of an image in a tree that mirrors the image tree.

    Args:
        image_root: the dataset folder the image paths are under.
        mask_root: the mirrored mask folder (default ``<image_root>/masks``).
        transform: applied to every (H, W) label map as it is loaded, before
            any image transform; must keep its shape (e.g. a degradation of
            :mod:`reidlib.data.mask_quality`).
    """

    def __init__(self, image_root: str | os.PathLike, mask_root: str | os.PathLike | None = None,
                 transform: Callable[[np.ndarray], np.ndarray] | None = None):
        self.transform = transform
        self.image_root = Path(image_root).resolve()
        self.mask_root = Path(mask_root).resolve() if mask_root is not None else self.image_root / "masks"
        if not self.mask_root.is_dir():
            raise MaskError(
                f"no mask folder at {self.mask_root}. Write one with "
                f"`python -m reidlib.data.segment masks --images {self.image_root} --out {self.mask_root}`, "
                "or pass mask_root= pointing at your parser's label maps"
            )

    # Appended to the error for a missing mask (a subclass says why one may be missing).
    missing_note = ""

    def read(self, path: Path) -> np.ndarray:
        """The study's (H, W) label map stored at ``path`` (a subclass may convert another label set)."""
        return read_label_map(path)

    def path_for(self, image_path: str | os.PathLike) -> Path:
        """The mask path that mirrors ``image_path``."""
        p = Path(image_path).resolve()
        try:
            rel = p.relative_to(self.image_root)
        except ValueError:
            raise MaskError(f"image {p} is not under the dataset folder {self.image_root}") from None
        return (self.mask_root / rel).with_suffix(".png")

    def load(self, image_path: str | os.PathLike, size: tuple[int, int] | None = None) -> np.ndarray:
        """The (H, W) label map of an image; ``size`` = (H, W) of the image, checked if given."""
        path = self.path_for(image_path)
        if not path.exists():
            raise MaskError(f"missing mask {path} for image {image_path}{self.missing_note}")
        labels = self.read(path)
        if size is not None and labels.shape != tuple(size):
            raise MaskError(f"mask {path} is {labels.shape[0]}x{labels.shape[1]} but its image is {size[0]}x{size[1]}")
        if self.transform is not None:
            changed = self.transform(labels)
            if changed.shape != labels.shape:
                raise MaskError(f"mask transform {self.transform} turned {path}'s {labels.shape} label map into "
                                f"{changed.shape}; it must keep the shape")
            labels = changed
        return labels


def parts_from_foreground(foreground: np.ndarray, head: float = 0.15, upper: float = 0.5) -> np.ndarray:
    """Part labels from a binary person mask by height alone.

    A binary segmenter knows where the person is, not where the parts are.
    This splits the foreground's vertical extent: the top ``head`` fraction
    is head (1), down to ``upper`` upper body (2), the rest lower body (3).
    It is an approximation (bags become body parts; a bent person is cut
    wrongly), and chapters that use it say so.
    """
    fg = np.asarray(foreground).astype(bool)
    labels = np.zeros(fg.shape, dtype=np.uint8)
    rows = np.flatnonzero(fg.any(axis=1))
    if rows.size == 0:
        return labels
    top, height = rows[0], rows[-1] - rows[0] + 1
    y = (np.arange(fg.shape[0]) - top) / height
    band = np.where(y < head, 1, np.where(y < upper, 2, 3)).astype(np.uint8)
    labels[fg] = np.broadcast_to(band[:, None], fg.shape)[fg]
    return labels

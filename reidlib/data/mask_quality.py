"""Mask quality: part masks made worse on purpose, and the segmenter's masks of a SynthReID dataset.

MGCAM (RGB-M input, attention target) and the background variants trust the
person mask. To measure how much a result depends on the mask's quality, a
*degradation* changes each (H, W) part-label mask (see :mod:`reidlib.data.masks`)
right after it is loaded, before any image transform, so everything
downstream (the RGB-M channel, MGCAM's attention target, the background
variants) sees the degraded mask. A degradation is a short string, the value
of ``data.mask_degradation`` (training) and ``data.test_mask_degradation``:

============  =================================================================
``none``      the mask as loaded
``erode:K``   the person (label > 0) shrinks by K pixels: every person pixel
              within Euclidean distance K of a background pixel becomes
              background (0); the boundaries between parts do not move
``dilate:K``  the person grows by K pixels: every background pixel within
              Euclidean distance K of the person takes the label of its
              nearest person pixel (ties: scipy's scan order)
``shift:F``   the whole label map moves right by ``round(F * W)`` pixels
              (F < 0: left); columns it leaves are background, columns pushed
              past the edge are lost. Horizontal only: a detector's box is
              misplaced sideways far more than vertically, and one axis keeps
              the sweep one-dimensional
============  =================================================================

Erosion and dilation use a disk of radius K (pixels at Euclidean distance
<= K), computed exactly with :func:`scipy.ndimage.distance_transform_edt`
(one pass, any K). The image border is not a person boundary: feet cut by the
crop's lower edge are not eroded. K and the shift count pixels of the mask
file (the image's own size, 128 x 64 for Market-1501 and SynthReID ``small``),
before the transforms resize it to ``data.height`` x ``data.width``.
``erode:0``, ``dilate:0`` and ``shift:0`` are ``none``.

:func:`segmenter_masks` writes the study's segmenter's masks for a SynthReID
dataset's query and gallery and measures them against the ground truth; the
folder it writes is a ``data.test_mask_root``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage

from .masks import MaskSource

DEGRADATION_FORMS = ("none", "erode:K", "dilate:K", "shift:F")
_HELP = ("use none, erode:K or dilate:K (K pixels, an integer >= 0) or shift:F "
         "(F a fraction of the width in (-1, 1); F > 0 moves the mask right)")


@dataclass(frozen=True)
class Degradation:
    """A parsed degradation: call it on a (H, W) label map. ``str()`` gives its canonical spelling."""

    kind: str = "none"  # none / erode / dilate / shift
    amount: float = 0  # K pixels (erode, dilate) or F (shift)

    def __str__(self) -> str:
        if self.kind == "none":
            return "none"
        return f"{self.kind}:{int(self.amount) if self.kind != 'shift' else self.amount!r}"

    def __call__(self, mask: np.ndarray) -> np.ndarray:
        return degrade(mask, self)


def parse_degradation(text: str | Degradation) -> Degradation:
    """``"erode:3"`` -> ``Degradation("erode", 3)``; a malformed string raises ValueError naming the forms."""
    if isinstance(text, Degradation):
        return text
    if not isinstance(text, str):
        raise ValueError(f"a mask degradation is a string, got {text!r}; {_HELP}")
    kind, _, raw = text.strip().lower().partition(":")
    if kind == "none" and not raw:
        return Degradation()
    if kind in ("erode", "dilate"):
        try:
            k = int(raw)
        except ValueError:
            k = -1
        if k < 0:
            raise ValueError(f"bad mask degradation {text!r}: {kind} takes a whole number of pixels >= 0; {_HELP}")
        return Degradation(kind, k) if k else Degradation()
    if kind == "shift":
        try:
            f = float(raw)
        except ValueError:
            f = float("nan")
        if not -1 < f < 1:
            raise ValueError(f"bad mask degradation {text!r}: shift takes a fraction of the width in (-1, 1); {_HELP}")
        return Degradation(kind, f) if f else Degradation()
    raise ValueError(f"unknown mask degradation {text!r}; {_HELP}")


def erode(labels: np.ndarray, k: int) -> np.ndarray:
    """(H, W) labels with person pixels within distance ``k`` of the background set to 0."""
    person = labels > 0
    if person.all():  # no background inside the image: nothing to erode from
        return labels.copy()
    depth = ndimage.distance_transform_edt(person)  # distance of each person pixel to the nearest background
    return np.where(depth > k, labels, 0).astype(labels.dtype)


def dilate(labels: np.ndarray, k: int) -> np.ndarray:
    """(H, W) labels with background pixels within distance ``k`` of the person given the nearest part's label."""
    background = labels == 0
    if background.all():  # no person to grow
        return labels.copy()
    dist, (iy, ix) = ndimage.distance_transform_edt(background, return_indices=True)
    nearest = labels[iy, ix]  # a person pixel is its own nearest person pixel
    return np.where(dist <= k, nearest, 0).astype(labels.dtype)


def shift(labels: np.ndarray, fraction: float) -> np.ndarray:
    """(H, W) labels moved right by ``round(fraction * W)`` pixels, background filling the vacated columns."""
    dx = round(fraction * labels.shape[1])
    # order=0 with a whole-pixel shift copies labels exactly (no interpolation between labels).
    return ndimage.shift(labels, (0, dx), order=0, mode="constant", cval=0)


def degrade(mask: np.ndarray, spec: str | Degradation) -> np.ndarray:
    """The (H, W) part-label ``mask`` under degradation ``spec`` (a string or :class:`Degradation`)."""
    spec = parse_degradation(spec)
    labels = np.asarray(mask)
    if labels.ndim != 2:
        raise ValueError(f"degrade takes a (H, W) label map, got shape {labels.shape}")
    if spec.kind == "erode":
        return erode(labels, int(spec.amount))
    if spec.kind == "dilate":
        return dilate(labels, int(spec.amount))
    if spec.kind == "shift":
        return shift(labels, spec.amount)
    return labels.copy()


def mask_iou(a, b) -> float:
    """Foreground (label > 0) IoU of two label maps, or of two equal-shaped stacks of them (pixels pooled)."""
    from .segmenter import iou

    return iou(torch.as_tensor(np.asarray(a) > 0), torch.as_tensor(np.asarray(b) > 0))


def segmenter_masks(dataset_name: str, out_dir: str | os.PathLike, dataset_options: dict | None = None,
                    weights: str | os.PathLike | None = None, device: str = "cpu", batch: int = 128,
                    progress: bool = False) -> dict:
    """Write the study's segmenter's masks of a SynthReID dataset's query and gallery; compare to ground truth.

    ``out_dir`` mirrors the dataset folder (``out_dir/query/...png``,
    ``out_dir/bounding_box_test/...png``), so it serves as
    ``data.test_mask_root`` of a run trained on ground-truth masks. Parts are
    split by height (:func:`reidlib.data.masks.parts_from_foreground`).

    Returns ``{"out", "images", "iou", "mean_iou"}``: the foreground IoU with
    the ground-truth masks over all pixels, and its mean over images.
    """
    from .catalog import SYNTH_PREFIX, open_dataset
    from .segment import segment_into
    from .segmenter import WEIGHTS, load_segmenter

    if not dataset_name.startswith(SYNTH_PREFIX):
        raise ValueError(f"segmenter_masks compares with SynthReID's ground-truth masks, and {dataset_name!r} has "
                         "none; for a real dataset run `python -m reidlib.data.segment masks --images DIR --out DIR`")
    ds = open_dataset(dataset_name, progress=progress, **(dataset_options or {}))
    truth = MaskSource(ds.root)
    model = load_segmenter(weights or WEIGHTS, device)
    out = Path(out_dir).resolve()
    inter = union = 0
    per_image = []
    for path, fg in segment_into(model, [r.path for r in ds.query + ds.gallery], ds.root, out, batch, progress):
        gt = torch.from_numpy(truth.load(path, size=fg.shape) > 0)
        i, u = int((fg & gt).sum()), int((fg | gt).sum())
        inter, union = inter + i, union + u
        per_image.append(i / u if u else 1.0)
    return {"out": str(out), "images": len(per_image), "iou": inter / union if union else 1.0,
            "mean_iou": float(np.mean(per_image))}

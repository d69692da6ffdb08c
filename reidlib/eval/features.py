"""Feature extraction for evaluation, and tracklet pooling for video re-ID."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .distance import to_tensor


def _images_of(batch) -> torch.Tensor:
    """The image tensor of a loader batch: a tensor, (images, ...) or {"image": images}."""
    if isinstance(batch, torch.Tensor):
        return batch
    if isinstance(batch, dict):
        for key in ("image", "img", "images"):
            if key in batch:
                return batch[key]
        raise KeyError(f"a batch dict needs an 'image' entry; it has {sorted(batch)}")
    if isinstance(batch, (list, tuple)) and batch and isinstance(batch[0], torch.Tensor):
        return batch[0]
    raise TypeError(f"cannot find the images in a batch of type {type(batch).__name__}")


# Entries of a batch dict that mirror with the image (the mask must stay aligned with it).
FLIPPED_KEYS = ("image", "img", "images", "mask")


def _mirrored(batch):
    """The batch with its images (and masks) flipped left-right."""
    if isinstance(batch, torch.Tensor):
        return batch.flip(-1)
    if isinstance(batch, dict):
        return {k: (v.flip(-1) if k in FLIPPED_KEYS else v) for k, v in batch.items()}
    return (_images_of(batch).flip(-1), *batch[1:])


@torch.no_grad()
def extract_features(
    model: torch.nn.Module,
    batches: Iterable,
    device: str | torch.device = "cpu",
    flip: bool = False,
    normalize: bool = True,
    progress: bool = True,
    embed: Callable | None = None,
) -> torch.Tensor:
    """Run ``model`` in eval mode over ``batches`` and stack its embeddings.

    Args:
        model: maps (B, C, H, W) images to (B, D) embeddings.
        batches: an iterable of batches (a DataLoader); each is a (B, C, H, W)
            tensor, a tuple whose first item is that tensor, or a dict with
            an ``"image"`` entry.
        device: where the model runs.
        flip: average the embeddings of each image and its mirror image
            (a batch dict's ``"mask"`` is mirrored with its image).
        normalize: L2-normalise the (averaged) embeddings.
        progress: show a progress bar.
        embed: ``batch -> (B, D)`` for models that need more than the images
            (masks, part labels); it moves the batch to the device itself.
            Default: ``model(images.to(device))``.

    Returns:
        (N, D) float32 CPU tensor, in the order of the batches.
    """
    if embed is None:
        def embed(batch):
            return model(_images_of(batch).to(device, non_blocking=True))
    was_training = model.training
    model.eval()
    out = []
    try:
        for batch in tqdm(batches, desc="features", disable=not progress, leave=False):
            f = embed(batch).float()
            if flip:
                f = (f + embed(_mirrored(batch)).float()) / 2
            if not bool(torch.isfinite(f).all()):
                raise ValueError("the model produced NaN or infinite features; check its weights and inputs")
            out.append((F.normalize(f, dim=1) if normalize else f).cpu())
    finally:
        model.train(was_training)
    if not out:
        raise ValueError("no batches to extract features from: the loader is empty")
    return torch.cat(out)


def pool_tracklet_features(
    features: torch.Tensor, tracklet_ids, method: str = "mean"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pool frame features into one feature per tracklet (MARS-style video re-ID).

    Args:
        features: (N, D) frame features.
        tracklet_ids: (N,) integer tracklet of each frame.
        method: ``"mean"`` (the MARS convention) or ``"max"``.

    Returns:
        (T, D) pooled features and the (T,) sorted tracklet ids they belong to.
    """
    feats = to_tensor(features).to(torch.float32)
    tid = to_tensor(np.asarray(tracklet_ids)).to(torch.int64).flatten()
    if tid.numel() != feats.shape[0]:
        raise ValueError(f"{tid.numel()} tracklet ids for {feats.shape[0]} frame features")
    uniq, inverse = torch.unique(tid, return_inverse=True)
    index = inverse.unsqueeze(1).expand_as(feats)
    if method == "mean":
        counts = torch.bincount(inverse, minlength=len(uniq)).unsqueeze(1)
        pooled = torch.zeros(len(uniq), feats.shape[1]).index_add_(0, inverse, feats) / counts
    elif method == "max":
        pooled = torch.full((len(uniq), feats.shape[1]), float("-inf")).scatter_reduce_(0, index, feats, "amax")
    else:
        raise ValueError(f"unknown pooling {method!r}; choose 'mean' or 'max'")
    return pooled, uniq


def tracklet_records(records: Sequence) -> list:
    """One record per tracklet (its first frame's), in the sorted tracklet order of :func:`pool_tracklet_features`.

    Its identity and camera stand for the tracklet's pooled feature.
    """
    first: dict[int, object] = {}
    for r in records:
        first.setdefault(r.tracklet, r)
    return [first[t] for t in sorted(first)]

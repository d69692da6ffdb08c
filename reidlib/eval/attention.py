"""How well a spatial attention map finds the person: scores against ground-truth masks.

SynthReID knows where every person is, so an attention map (FA-Net's Zf,
FTN's CFA mask, MGCAM's body map) can be scored directly:

* ``iou``: intersection over union of the map thresholded at ``threshold``
  with the person mask, both at the map's resolution (a map cell counts as
  person when at least half of its pixels are);
* ``inside`` / ``outside``: the mean attention on person and on background
  cells, and ``contrast`` = inside - outside, which needs no threshold.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..data.masks import MaskSource


def person_grid(labels: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """A (H, W) label map as a boolean (h, w) person grid: cells at least half covered by the person."""
    fg = torch.from_numpy((labels > 0).astype(np.float32))[None, None]
    return F.adaptive_avg_pool2d(fg, size)[0, 0] >= 0.5


@torch.no_grad()
def attention_scores(model, loader, records: Sequence, masks: MaskSource, key: str = "zf",
                     threshold: float = 0.5, device: str | torch.device = "cpu") -> dict:
    """Mean IoU, inside, outside and contrast of ``model``'s attention ``outputs[key]`` over a loader.

    Args:
        model: a :class:`reidlib.models.base.ReIDModel` in eval mode whose
            outputs include ``key``, a (B, 1, h, w) map in [0, 1].
        loader: batches with an ``"index"`` entry into ``records`` (an eval loader).
        records, masks: the loader's records and where their masks are.
    """
    ious, inside, outside = [], [], []
    for batch in loader:
        out = model({k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()})
        if key not in out:
            raise KeyError(f"the model's outputs have no {key!r} map (it has {sorted(out)}); "
                           "is its attention module switched on?")
        maps = out[key].float().cpu()[:, 0]
        for m, index in zip(maps, batch["index"].tolist()):
            person = person_grid(masks.load(records[index].path), tuple(m.shape))
            pred = m >= threshold
            union = (pred | person).sum().item()
            ious.append((pred & person).sum().item() / union if union else 1.0)
            if person.any() and (~person).any():
                inside.append(m[person].mean().item())
                outside.append(m[~person].mean().item())
    if not ious:
        raise ValueError("the loader gave no images")
    return {"iou": float(np.mean(ious)), "inside": float(np.mean(inside)), "outside": float(np.mean(outside)),
            "contrast": float(np.mean(inside) - np.mean(outside)), "images": len(ious)}

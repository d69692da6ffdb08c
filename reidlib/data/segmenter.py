"""The study's person segmenter: foreground masks for real re-ID crops.

Real re-ID datasets come without masks, and the only real pedestrian masks
here are Penn-Fudan's (170 street scenes, 423 people). So the segmenter is
trained on re-ID-like crops cut from Penn-Fudan: each pedestrian's box,
enlarged by a random margin and shifted like a detector's crop, resized to
128 x 64; the target is that pedestrian's mask (other people in the crop
count as background, as they do for re-ID). The network is a small U-Net
(about 0.5 M parameters) so that it trains on a CPU in minutes and its
weights can ship with the repository.

Images are held out by scene (``holdout`` of the 170), so no crop of a
held-out pedestrian, nor any other crop of its street scene, is seen in training.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from .images import read_image

INPUT_SIZE = (128, 64)  # (H, W) the network sees
WEIGHTS = Path(__file__).resolve().parent / "weights" / "person_segmenter.pt"


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
    )


class PersonSegmenter(nn.Module):
    """U-Net: (B, 3, H, W) normalised images -> (B, 1, H, W) foreground logits (H, W divisible by 8)."""

    def __init__(self, width: int = 16):
        super().__init__()
        c = [width, width * 2, width * 4, width * 8]
        self.down = nn.ModuleList([_block(3, c[0]), _block(c[0], c[1]), _block(c[1], c[2]), _block(c[2], c[3])])
        self.up = nn.ModuleList([_block(c[3] + c[2], c[2]), _block(c[2] + c[1], c[1]), _block(c[1] + c[0], c[0])])
        self.head = nn.Conv2d(c[0], 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        for block, skip in zip(self.up, reversed(skips[:-1])):
            x = block(torch.cat([F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False), skip], 1))
        return self.head(x)


MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)


def preprocess(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) uint8 -> normalised float at INPUT_SIZE."""
    x = F.interpolate(images.float() / 255.0, size=INPUT_SIZE, mode="bilinear", align_corners=False, antialias=True)
    return (x - MEAN) / STD


# ---------------------------------------------------------------------------- Penn-Fudan crops

@dataclass
class Pedestrian:
    image: str
    mask: str
    instance: int  # the pedestrian's value in the instance mask
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 (0-based, inclusive)


_BOX = re.compile(r'Bounding box for object (\d+) .*: \((\d+), (\d+)\) - \((\d+), (\d+)\)')


def pennfudan_pedestrians(root: str | os.PathLike) -> dict[str, list[Pedestrian]]:
    """Pedestrians of Penn-Fudan, grouped by scene image, from its annotation files."""
    root = Path(root)
    missing = [d for d in ("PNGImages", "PedMasks", "Annotation") if not (root / d).is_dir()]
    if missing:
        raise FileNotFoundError(
            f"Penn-Fudan at {root} lacks {', '.join(missing)}: point --pennfudan at the unpacked PennFudanPed folder "
            "(https://www.cis.upenn.edu/~jshi/ped_html/)"
        )
    scenes: dict[str, list[Pedestrian]] = {}
    for ann in sorted((root / "Annotation").glob("*.txt")):
        stem = ann.stem
        peds = []
        for m in _BOX.finditer(ann.read_text(errors="replace")):
            k, x0, y0, x1, y1 = map(int, m.groups())
            # Annotation coordinates are 1-based; the k-th object has value k in the mask.
            peds.append(Pedestrian(str(root / "PNGImages" / f"{stem}.png"), str(root / "PedMasks" / f"{stem}_mask.png"),
                                   k, (x0 - 1, y0 - 1, x1 - 1, y1 - 1)))
        if not peds:
            raise ValueError(f"no bounding boxes parsed from {ann}")
        scenes[stem] = peds
    if not scenes:
        raise FileNotFoundError(f"no annotation files in {root / 'Annotation'}")
    return scenes


def split_scenes(scenes: dict, holdout: float = 0.2, seed: int = 0) -> tuple[list[str], list[str]]:
    """(train, held-out) scene names; the held-out scenes are never trained on."""
    names = sorted(scenes)
    order = np.random.default_rng(seed).permutation(len(names))
    n_out = int(round(holdout * len(names)))
    return sorted(names[i] for i in order[n_out:]), sorted(names[i] for i in order[:n_out])


def reid_crop(image: torch.Tensor, mask: np.ndarray, ped: Pedestrian, rng: np.random.Generator | None,
              margin: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """A detector-like crop around a pedestrian: (3, H, W) uint8 and its (H, W) binary mask at INPUT_SIZE.

    ``rng=None`` gives the deterministic evaluation crop (box + ``margin`` on
    every side, aspect ratio forced to 2:1 like re-ID crops).
    """
    x0, y0, x1, y1 = ped.box
    w, h = x1 - x0 + 1, y1 - y0 + 1
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    if rng is None:
        scale, dx, dy = 1 + 2 * margin, 0.0, 0.0
    else:
        scale = 1 + 2 * rng.uniform(0.0, 0.25)
        dx, dy = rng.normal(0, 0.06) * w, rng.normal(0, 0.04) * h
    ch = h * scale
    cw = max(w * scale, ch / 2) if rng is None else ch / 2 * rng.uniform(0.9, 1.1)
    top, left = int(round(cy + dy - ch / 2)), int(round(cx + dx - cw / 2))
    bottom, right = top + int(round(ch)), left + int(round(cw))
    img_h, img_w = image.shape[-2:]
    # Pad with edge pixels where the crop leaves the scene, as a detector crop clipped at the border would show.
    pad = (max(0, -left), max(0, right - img_w), max(0, -top), max(0, bottom - img_h))
    padded = F.pad(image.float().unsqueeze(0), pad, mode="replicate")[0]
    fg = torch.from_numpy(mask == ped.instance).float()
    fg = F.pad(fg[None, None], pad)[0, 0]
    t, l = top + pad[2], left + pad[0]
    crop = padded[:, t:t + bottom - top, l:l + right - left]
    fgc = fg[t:t + bottom - top, l:l + right - left]
    crop = F.interpolate(crop[None], size=INPUT_SIZE, mode="bilinear", align_corners=False, antialias=True)[0]
    fgc = F.interpolate(fgc[None, None], size=INPUT_SIZE, mode="bilinear", align_corners=False)[0, 0]
    return crop.round().clamp(0, 255).to(torch.uint8), (fgc > 0.5).float()


def load_scene(ped: Pedestrian) -> tuple[torch.Tensor, np.ndarray]:
    with Image.open(ped.mask) as m:
        return read_image(ped.image), np.asarray(m)


# ---------------------------------------------------------------------------- inference

def load_segmenter(weights: str | os.PathLike = WEIGHTS, device: str = "cpu") -> PersonSegmenter:
    """The study's trained segmenter; a missing or foreign checkpoint is a clear error."""
    path = Path(weights)
    if not path.exists():
        raise FileNotFoundError(
            f"segmenter weights {path} not found: retrain them with "
            "`python -m reidlib.data.segment train --pennfudan ../shared/data/PennFudanPed`"
        )
    ckpt = torch.load(path, map_location=device, weights_only=True)
    if not isinstance(ckpt, dict) or ckpt.get("model") != "PersonSegmenter":
        raise ValueError(f"{path} is not a PersonSegmenter checkpoint (its 'model' entry is "
                         f"{ckpt.get('model') if isinstance(ckpt, dict) else type(ckpt).__name__!r})")
    model = PersonSegmenter(ckpt["width"])
    model.load_state_dict(ckpt["state_dict"])
    return model.to(device).eval()


@torch.no_grad()
def predict_foreground(model: nn.Module, images: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """(B, 3, H, W) uint8 crops -> (B, H, W) bool foreground at the crops' own size."""
    device = next(model.parameters()).device
    logits = model(preprocess(images).to(device)).float().cpu()
    prob = torch.sigmoid(F.interpolate(logits, size=images.shape[-2:], mode="bilinear", align_corners=False))
    return prob[:, 0] > threshold


def iou(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Foreground intersection over union of two boolean masks (summed over a batch)."""
    pred, target = pred.bool(), target.bool()
    union = (pred | target).sum().item()
    return (pred & target).sum().item() / union if union else 1.0

"""Scene images without people: the pool of the random-background transform.

The background-bias paper pastes people onto backgrounds "that are not scenes
of the dataset". With SynthReID that is exact: scenes of another family share
no wall, ground or landmark kind with the dataset's.
"""

from __future__ import annotations

import numpy as np
import torch

from .scene import build_world, render_scene


def scene_backgrounds(family: str = "C", count: int = 20, seed: int = 0, unit: int = 128,
                      cameras: int = 4) -> list[torch.Tensor]:
    """``count`` (3, H, W) uint8 crops of empty scenes of ``family``, person-shaped (2:1).

    Crops are cut from the panoramas of ``cameras`` cameras of one world,
    each about 1.5 units tall around the walking line, so they show ground
    and wall as a person crop does.
    """
    world = build_world(family, seed=10_000 + seed, length=16 * unit, unit=unit)
    rng = np.random.default_rng(seed)
    scenes = [render_scene(world, cam, unit) for cam in range(cameras)]
    out = []
    for i in range(count):
        scene = scenes[i % cameras]
        pano = scene.background
        h = int(round(1.2 * unit))
        w = h // 2
        top = int(np.clip(scene.foot_y - h + rng.uniform(-0.1, 0.1) * unit, 0, pano.shape[0] - h))
        left = int(rng.integers(0, pano.shape[1] - w))
        crop = pano[top:top + h, left:left + w]
        out.append(torch.from_numpy((np.clip(crop, 0, 1) * 255).round().astype(np.uint8)).permute(2, 0, 1).contiguous())
    return out

"""Procedural noise and anti-aliased shapes shared by the figure and scene renderers.

Everything works on float32 arrays in [0, 1]. Shapes are drawn from signed
distance functions (negative inside): a pixel's coverage is
``clip(0.5 - distance_in_pixels, 0, 1)``, which anti-aliases every edge over
about one pixel without supersampling.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def value_noise(rng: np.random.Generator, height: int, width: int, cell: float) -> np.ndarray:
    """(height, width) float32 smooth noise with zero mean and unit-ish spread.

    Random values on a grid with spacing ``cell`` pixels, bicubically
    interpolated (PIL does the interpolation in C, which keeps scene
    rendering fast).
    """
    gh, gw = int(np.ceil(height / cell)) + 2, int(np.ceil(width / cell)) + 2
    grid = rng.standard_normal((gh, gw)).astype(np.float32)
    big = Image.fromarray(grid).resize((int(round(gw * cell)), int(round(gh * cell))), Image.BICUBIC)
    return np.asarray(big, dtype=np.float32)[:height, :width]


def cell_hash(i: np.ndarray, j: np.ndarray, salt: int = 0) -> np.ndarray:
    """A deterministic pseudo-random value in [0, 1) per integer cell (i, j): per-tile colour variation."""
    h = (i.astype(np.int64) * 73856093) ^ (j.astype(np.int64) * 19349663) ^ (salt * 83492791)
    h = (h ^ (h >> 13)) * 1274126177
    return ((h ^ (h >> 16)) & 0xFFFF).astype(np.float32) / 65536.0


def coverage(distance_px: np.ndarray) -> np.ndarray:
    """Anti-aliased coverage in [0, 1] from a signed distance in pixels (negative inside)."""
    return np.clip(0.5 - distance_px, 0.0, 1.0)

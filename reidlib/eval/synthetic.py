"""Random re-ID features with a known identity structure.

For teaching, tests and benchmarks: no model, just an identity centre per
person plus Gaussian noise, so the difficulty of the ranking is set by one
number. The split mimics a re-ID test set: queries and gallery images of the
same identities over several cameras, plus junk (-1) and distractor (0)
gallery images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class FeatureSplit:
    """Query and gallery features with their identities and cameras."""

    query: torch.Tensor  # (Q, D)
    gallery: torch.Tensor  # (G, D)
    query_ids: np.ndarray  # (Q,)
    gallery_ids: np.ndarray  # (G,)
    query_cams: np.ndarray  # (Q,)
    gallery_cams: np.ndarray  # (G,)

    def labels(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The four label arrays in the order ``evaluate_rank`` takes them."""
        return self.query_ids, self.gallery_ids, self.query_cams, self.gallery_cams


def random_features(
    num_query: int,
    num_gallery: int,
    num_ids: int,
    num_cams: int = 6,
    dim: int = 2048,
    noise: float | None = 3.0,
    num_junk: int = 0,
    num_distractors: int = 0,
    seed: int = 0,
) -> FeatureSplit:
    """Identity centre + ``noise`` * N(0, I) per image (``noise=None``: no identity signal).

    Identities are 1..num_ids; the first ``num_junk`` gallery images get
    identity -1 and the next ``num_distractors`` identity 0, each with a
    centre that matches no query.
    """
    if num_junk + num_distractors > num_gallery:
        raise ValueError("more junk and distractor images than gallery images")
    rng = np.random.default_rng(seed)
    q_ids = rng.integers(1, num_ids + 1, num_query)
    g_ids = rng.integers(1, num_ids + 1, num_gallery)
    g_ids[:num_junk] = -1
    g_ids[num_junk:num_junk + num_distractors] = 0
    q_cams = rng.integers(0, num_cams, num_query)
    g_cams = rng.integers(0, num_cams, num_gallery)
    gen = torch.Generator().manual_seed(seed)
    if noise is None:
        qf = torch.randn(num_query, dim, generator=gen)
        gf = torch.randn(num_gallery, dim, generator=gen)
    else:
        # Centre 0 serves distractors, centre num_ids + 1 junk: neither matches a query.
        centres = torch.randn(num_ids + 2, dim, generator=gen)
        qf = centres[q_ids] + noise * torch.randn(num_query, dim, generator=gen)
        gf = centres[np.where(g_ids < 0, num_ids + 1, g_ids)] + noise * torch.randn(num_gallery, dim, generator=gen)
    return FeatureSplit(qf, gf, q_ids, g_ids, q_cams, g_cams)

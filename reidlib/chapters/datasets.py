"""The chapter *The datasets and their backgrounds*: how much of each image the person's mask covers.

Real re-ID datasets have no masks, so the study's person segmenter cannot be scored on them; what can be
checked is that its masks cover the share of an image one expects of a re-ID crop. The chapter compares, in
numbers only (the book never shows a real person), the foreground fraction of SynthReID's ground-truth masks
with that of the segmenter's masks on CUHK01, which a ``cpu`` or ``gpu`` run computes from the real data
and commits as ``results/<profile>/datasets_real.json``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..data import MaskSource, load_dataset
from ..paths import REPO_ROOT

# Where the real datasets sit beside the project (never downloaded here); only cpu/gpu runs read them.
SHARED_DATA = Path(REPO_ROOT).parent / "shared" / "data"
SYNTH_ROW = "SynthReID (ground truth)"


def foreground_fractions(masks, records: Sequence) -> np.ndarray:
    """The fraction of each record's image its mask marks as person (any label above 0 in ``masks.load``)."""
    return np.array([(masks.load(r.path) > 0).mean() for r in records])


def fraction_summary(fractions: np.ndarray, cameras: np.ndarray) -> dict:
    """``datasets_real.json``'s foreground entries: mean and std over all images, and the mean per camera.

    ``fractions`` and ``cameras`` (0-based camera ids) hold one value per image; camera keys count from 1.
    """
    return {"cuhk01_foreground_fraction": {"mean": float(fractions.mean()), "std": float(fractions.std())},
            "cuhk01_foreground_fraction_by_camera":
                {f"camera {c + 1}": float(fractions[cameras == c].mean()) for c in np.unique(cameras)}}


def cuhk01_mask_results(root: str | Path) -> dict:
    """Segment every CUHK01 image under ``root`` with the study's person segmenter; what ``datasets_real`` holds.

    Returns the dataset's statistics (``cuhk01_statistics``) and :func:`fraction_summary` of the masks,
    which are written to a temporary folder and never shown.
    """
    # Imported here: only a cpu/gpu run segments the real data.
    from ..data.segment import main as segment_main

    cuhk = load_dataset("cuhk01", root)
    mask_dir = Path(tempfile.mkdtemp()) / "masks"
    segment_main(["masks", "--images", str(cuhk.root), "--out", str(mask_dir)])
    cuhk_masks = MaskSource(cuhk.root, mask_dir)
    records = cuhk.train + cuhk.query + cuhk.gallery
    fractions = foreground_fractions(cuhk_masks, records)
    cameras = np.array([r.camid for r in records])
    return {"cuhk01_statistics": cuhk.statistics().to_dict(orient="index"), **fraction_summary(fractions, cameras)}


def foreground_comparison(synth_fractions: np.ndarray, real: dict | None) -> dict[str, dict]:
    """Mean and std of the foreground fraction per source: SynthReID's ground truth, and CUHK01 where known.

    ``real`` is a loaded ``datasets_real`` results file (with its ``profile``), or None when none is committed.
    """
    comparison = {SYNTH_ROW: {"mean": synth_fractions.mean(), "std": synth_fractions.std()}}
    if real is not None:
        comparison[f"CUHK01 (segmenter, {real['profile']} results)"] = real["cuhk01_foreground_fraction"]
    return comparison


def rounded(comparison: dict[str, dict], digits: int = 4) -> dict[str, dict]:
    """:func:`foreground_comparison` as the results file stores it: plain floats to ``digits`` places."""
    return {k: {m: round(float(v), digits) for m, v in d.items()} for k, d in comparison.items()}


def comparison_table(comparison: dict[str, dict]) -> pd.DataFrame:
    """One row per source of :func:`foreground_comparison`: ``mean foreground fraction`` and ``std``."""
    return pd.DataFrame(comparison).T.rename(columns={"mean": "mean foreground fraction", "std": "std"})

"""Datasets by the names notebooks and configs use.

``synth-tiny``, ``synth-small``, ``synth-market`` and ``synth-duke`` are
SynthReID presets, generated on first use into ``.cache/synth`` (keyed by
preset, seed and options) and read back through the Market-1501-layout
reader. Any other name is a real dataset of :data:`reidlib.data.DATASETS`,
read from ``data_root``.
"""

from __future__ import annotations

import os

from .datasets import DATASETS, load_dataset
from .records import ReIDDataset

SYNTH_PREFIX = "synth-"


def open_dataset(name: str, data_root: str | os.PathLike | None = None, seed: int = 0,
                 progress: bool = False, **options) -> ReIDDataset:
    """The dataset called ``name``; ``options`` go to the SynthReID generator or the real reader.

    Raises ValueError naming the choices for an unknown name, and for a real
    dataset without ``data_root``.
    """
    if name.startswith(SYNTH_PREFIX):
        from .synth import PRESETS, ensure

        preset = name[len(SYNTH_PREFIX):]
        if preset not in PRESETS:
            raise ValueError(f"unknown SynthReID preset {preset!r}; choose one of "
                             f"{', '.join(SYNTH_PREFIX + p for p in PRESETS)}")
        video = options.pop("video", False)  # a view of the generated images, not a generator setting
        root = ensure(preset, seed=seed, progress=progress, **options)
        ds = load_dataset("folder", root)
        ds.name = name
        if video:
            from .synth.video import video_view

            return video_view(ds)
        return ds
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose a SynthReID preset (synth-tiny, synth-small, "
                         f"synth-market, synth-duke) or one of {', '.join(DATASETS)}")
    if data_root is None:
        raise ValueError(f"dataset {name!r} is read from disk: pass data_root (the folder you downloaded it to)")
    return load_dataset(name, data_root, **options)

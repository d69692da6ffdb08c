"""One reader per re-ID dataset, each taking the folder exactly as its authors distribute it.

>>> ds = load_dataset("market1501", "/data/Market-1501-v15.09.15")      # doctest: +SKIP
>>> ds = load_dataset("cuhk03", "/data/cuhk03", subset="detected")      # doctest: +SKIP
>>> ds.statistics()                                                     # doctest: +SKIP

Every reader returns a :class:`~reidlib.data.records.ReIDDataset`: training
identities relabelled 0..N-1, 0-based cameras, absolute image paths, and the
official counts in ``expected`` (a warning per difference when read). A
folder that is not the dataset raises :class:`DatasetLayoutError` saying
what is missing or unexpected.

=============  ==========================================================
name           options (keyword, default)
=============  ==========================================================
market1501     include_500k_distractors=False
dukemtmc       (none)
folder         (none): any folder in the Market-1501 layout
msmt17         combine_val=False, version=None (1 or 2)
cuhk03         subset="labeled", protocol="new", split=0, extract_dir=None
mars           (none)
viper          split_seed=0, num_test_ids=316
cuhk01         split_seed=0, num_test_ids=486, shot="multi"
3dpes          split_seed=0, num_test_ids=96, shot="multi"
=============  ==========================================================
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable

from ..records import ReIDDataset
from . import cuhk01, cuhk03, market1501, mars, msmt17, threedpes, viper
from .common import DatasetLayoutError, two_camera_expected, verify_images
from .cuhk01 import read_cuhk01
from .cuhk03 import extract_images as extract_cuhk03_images
from .cuhk03 import read_cuhk03
from .market1501 import read_dukemtmc, read_folder, read_market1501
from .mars import read_mars
from .msmt17 import read_msmt17
from .threedpes import read_3dpes
from .viper import read_viper

DATASETS: dict[str, Callable[..., ReIDDataset]] = {
    "market1501": read_market1501,
    "dukemtmc": read_dukemtmc,
    "msmt17": read_msmt17,
    "cuhk03": read_cuhk03,
    "mars": read_mars,
    "viper": read_viper,
    "cuhk01": read_cuhk01,
    "3dpes": read_3dpes,
    "folder": read_folder,
}

__all__ = ["DATASETS", "DatasetLayoutError", "dataset_options", "extract_cuhk03_images", "load_dataset",
           "official_statistics", "verify_images"]


def official_statistics(name: str) -> dict[str, dict[str, int]]:
    """The official counts per split of dataset ``name`` under its readers' default protocol.

    These are what a reader compares its counts with (CUHK03: the labeled
    boxes; the random-split datasets: their default number of test identities).
    """
    two_camera = {  # total identities, images per identity and camera (None: it varies)
        "viper": (viper.NUM_IDENTITIES, 1),
        "cuhk01": (cuhk01.NUM_IDENTITIES, 2),
        "3dpes": (threedpes.NUM_IDENTITIES, None),
    }
    tables = {
        "market1501": market1501.MARKET1501_EXPECTED,
        "dukemtmc": market1501.DUKEMTMC_EXPECTED,
        "msmt17": msmt17.EXPECTED,
        "cuhk03": cuhk03.NEW_PROTOCOL_EXPECTED["labeled"],
        "mars": mars.EXPECTED,
    }
    if name in two_camera:
        defaults = dataset_options(name)
        num_ids, per_camera = two_camera[name]
        return two_camera_expected(num_ids, defaults["num_test_ids"], per_camera, defaults.get("shot", "single"))
    if name not in tables:
        raise ValueError(f"no official statistics for {name!r}; datasets with them: "
                         f"{', '.join([*tables, *two_camera])}")
    return {split: dict(counts) for split, counts in tables[name].items()}


def dataset_options(name: str) -> dict[str, object]:
    """The options of dataset ``name`` and their defaults."""
    reader = _reader(name)
    return {p.name: p.default for p in inspect.signature(reader).parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY}


def load_dataset(name: str, root: str | os.PathLike, **options: object) -> ReIDDataset:
    """Read dataset ``name`` (a key of :data:`DATASETS`) from ``root`` with the reader's ``options``.

    Raises ``ValueError`` for an unknown name or option (naming the valid
    ones) and :class:`DatasetLayoutError` for a folder that is not the dataset.
    """
    valid = dataset_options(name)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        choices = ", ".join(f"{k}={v!r}" for k, v in valid.items()) or "none"
        raise ValueError(f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} for dataset "
                         f"{name!r}; its options (with defaults) are: {choices}")
    return _reader(name)(root, **options)


def _reader(name: str) -> Callable[..., ReIDDataset]:
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}") from None

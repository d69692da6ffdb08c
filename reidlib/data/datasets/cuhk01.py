"""CUHK01 (Li, Zhao and Wang, "Human Reidentification with Transferred Metric Learning", ACCV 2012).

971 identities, two disjoint camera views, two images per identity and view.
The layout, as CUHK distributes it::

    campus/0001001.png      PPPPIII.png: identity PPPP (0001-0971), image III:
    campus/0001002.png      001-002 camera A,
    campus/0001003.png      003-004 camera B
    campus/0001004.png

Protocols: 485 training / 486 test identities (default) or 871 / 100,
single- or multi-shot, repeated random splits (see
:func:`~reidlib.data.datasets.common.two_camera_split`).
"""

from __future__ import annotations

import os
import re

from ..records import ReIDDataset
from .common import (
    absolute,
    build_dataset,
    layout_error,
    list_images,
    listing,
    locate,
    parse_names,
    two_camera_expected,
    two_camera_split,
)

NAME = re.compile(r"(\d{4})(\d{3})\.png", re.IGNORECASE)
CAMERA_A_IMAGES = (1, 2)
CAMERA_B_IMAGES = (3, 4)
NUM_IDENTITIES = 971  # Li et al., ACCV 2012: 3,884 images, 4 per identity


def read_cuhk01(root: str | os.PathLike, *, split_seed: int = 0, num_test_ids: int = 486,
                shot: str = "multi") -> ReIDDataset:
    """CUHK01 from ``root`` (the folder holding ``campus/``, or ``campus/`` itself).

    Options:
        split_seed: seed of the random identity split (trial k: ``split_seed=k``).
        num_test_ids: 486 (485 training identities, default) or 100 (871 training).
        shot: ``"multi"`` (both images per test identity and camera, default)
            or ``"single"`` (one random image of each).
    """
    root = absolute(root)
    if root.name == "campus" and not (root / "campus").is_dir():
        root = root.parent  # the user passed campus/ itself
    where = locate(root, "CUHK01", ("campus",))
    paths = list_images(where / "campus", (".png",))
    if not paths:
        raise layout_error("CUHK01", where, "folder campus holds no .png images")
    views: dict[int, tuple[list[str], list[str]]] = {}
    for path, match in zip(paths, parse_names(paths, NAME, "CUHK01", where, "0001001.png")):
        pid, image = int(match.group(1)), int(match.group(2))
        if image not in CAMERA_A_IMAGES + CAMERA_B_IMAGES:
            raise layout_error("CUHK01", where, f"image number {image:03d} in {path}; expected 001-004 "
                                                "(001-002 camera A, 003-004 camera B)")
        cam_a, cam_b = views.setdefault(pid, ([], []))
        (cam_a if image in CAMERA_A_IMAGES else cam_b).append(str(path))
    # An identity seen by one camera only cannot be a test identity; the
    # release has none, so report it rather than guess.
    one_sided = sorted(pid for pid, (cam_a, cam_b) in views.items() if not cam_a or not cam_b)
    if one_sided:
        raise layout_error("CUHK01", where, f"identities with images from one camera only: {listing(one_sided)}")
    train, query, gallery = two_camera_split(views, num_test_ids=num_test_ids, split_seed=split_seed, shot=shot,
                                             dataset="CUHK01", where=where)
    expected = two_camera_expected(NUM_IDENTITIES, num_test_ids, images_per_camera=2, shot=shot)
    return build_dataset("cuhk01", where, train, query, gallery, expected)

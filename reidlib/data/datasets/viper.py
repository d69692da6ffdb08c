"""VIPeR (Gray, Brennan and Tao, PETS 2007): 632 identities, one image in each of two cameras.

The layout, as ``VIPeR.v1.0.zip`` unpacks::

    VIPeR/
        cam_a/000_45.bmp    identity number 000, viewpoint angle 45 degrees
        cam_b/000_90.bmp    the same identity seen by the other camera

An identity's two images share the number before the underscore (the
numbers are not contiguous). Protocol: 316 random training and 316 test
identities, query = camera A, gallery = camera B, repeated with several
seeds (see :func:`~reidlib.data.datasets.common.two_camera_split`).
"""

from __future__ import annotations

import os
import re

from ..records import ReIDDataset
from .common import (
    build_dataset,
    layout_error,
    list_images,
    listing,
    locate,
    parse_names,
    two_camera_expected,
    two_camera_split,
)

FOLDERS = ("cam_a", "cam_b")
NAME = re.compile(r"(\d+)_(\d+)\.bmp", re.IGNORECASE)
NUM_IDENTITIES = 632  # Gray et al., PETS 2007


def read_viper(root: str | os.PathLike, *, split_seed: int = 0, num_test_ids: int = 316) -> ReIDDataset:
    """VIPeR from ``root`` (the folder holding ``cam_a/`` and ``cam_b/``, or its parent ``VIPeR/``).

    Options:
        split_seed: seed of the random identity split (trial k of the usual
            10 trials: ``split_seed=k``).
        num_test_ids: test identities (316, half of the 632, by convention).
    """
    where = locate(root, "VIPeR", FOLDERS, release_names=("VIPeR",))
    cameras = []
    for folder in FOLDERS:
        paths = list_images(where / folder, (".bmp",))
        matches = parse_names(paths, NAME, "VIPeR", where, "000_45.bmp")
        by_id: dict[int, list[str]] = {}
        for path, match in zip(paths, matches):
            by_id.setdefault(int(match.group(1)), []).append(str(path))
        extra = [p for paths_of_id in by_id.values() if len(paths_of_id) > 1 for p in paths_of_id]
        if extra:
            raise layout_error("VIPeR", where, f"{folder} holds several images of one identity: {listing(extra)}")
        cameras.append(by_id)
    cam_a, cam_b = cameras
    unpaired = sorted(set(cam_a) ^ set(cam_b))
    if unpaired:
        raise layout_error("VIPeR", where, f"identit{'ies' if len(unpaired) > 1 else 'y'} in one camera only "
                                           f"(by the number before '_'): {listing(unpaired)}")
    views = {pid: (cam_a[pid], cam_b[pid]) for pid in cam_a}
    train, query, gallery = two_camera_split(views, num_test_ids=num_test_ids, split_seed=split_seed,
                                             dataset="VIPeR", where=where)
    expected = two_camera_expected(NUM_IDENTITIES, num_test_ids, images_per_camera=1, shot="single")
    return build_dataset("viper", where, train, query, gallery, expected)

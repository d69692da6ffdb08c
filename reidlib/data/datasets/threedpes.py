"""3DPeS (Baltieri, Vezzani and Cucchiara, "3DPeS: 3D People Dataset for Surveillance and Forensics", 2011).

The re-identification snapshots, as ``3DPeS_ReId_Snap.zip`` unpacks (the
layout the DGD and torchreid-style converters read)::

    3DPeS/
        RGB/PPP_VVV_....bmp     identity PPP, view VVV (one camera sighting), then the frame

Eight outdoor cameras saw 192 people (Baltieri et al., 2011); the
snapshots record for each image its identity and view, not a fixed camera
pair. The usual protocol (Xiao et al., "Learning Deep Feature
Representations with Domain Guided Dropout", CVPR 2016) therefore makes two
"cameras" per identity: its views, shuffled, split in halves, camera A
taking the first half. Test identities (drawn among those with at least
two views, so that they have both a query and a gallery image) give query =
camera A, gallery = camera B; see
:func:`~reidlib.data.datasets.common.two_camera_split`.
"""

from __future__ import annotations

import os
import re

import numpy as np

from ..records import ReIDDataset
from .common import build_dataset, layout_error, list_images, locate, parse_names, two_camera_expected, two_camera_split

NAME = re.compile(r"(\d+)_(\d+)(?:_[^.]*)?\.bmp", re.IGNORECASE)
NAME_EXAMPLE = "001_1_0001.bmp"
NUM_IDENTITIES = 192  # Baltieri et al., 2011


def read_3dpes(root: str | os.PathLike, *, split_seed: int = 0, num_test_ids: int = 96,
               shot: str = "multi") -> ReIDDataset:
    """3DPeS from ``root`` (the folder holding ``RGB/``, or its parent holding ``3DPeS/``).

    Options:
        split_seed: seed of the random split of identities and of each
            identity's views into cameras A and B (trial k: ``split_seed=k``).
        num_test_ids: test identities (96, half of the 192, by default).
        shot: ``"multi"`` (all images, default) or ``"single"`` (one random
            image per test identity and camera).
    """
    where = locate(root, "3DPeS", ("RGB",), release_names=("3DPeS",))
    paths = list_images(where / "RGB", (".bmp",))
    if not paths:
        raise layout_error("3DPeS", where, "folder RGB holds no .bmp images")
    by_view: dict[int, dict[int, list[str]]] = {}
    for path, match in zip(paths, parse_names(paths, NAME, "3DPeS", where, NAME_EXAMPLE)):
        by_view.setdefault(int(match.group(1)), {}).setdefault(int(match.group(2)), []).append(str(path))
    # A stream of its own, so the identity split does not depend on how many views were shuffled.
    rng = np.random.default_rng([split_seed, 1])
    views: dict[int, tuple[list[str], list[str]]] = {}
    for pid, sightings in sorted(by_view.items()):
        order = rng.permutation(sorted(sightings)).tolist()
        half = len(order) // 2
        views[pid] = ([p for v in order[:half] for p in sightings[v]],
                      [p for v in order[half:] for p in sightings[v]])
    two_sided = [pid for pid, (cam_a, _) in views.items() if cam_a]
    train, query, gallery = two_camera_split(views, num_test_ids=num_test_ids, split_seed=split_seed, shot=shot,
                                             dataset="3DPeS", where=where, test_candidates=two_sided)
    expected = two_camera_expected(NUM_IDENTITIES, num_test_ids, images_per_camera=None, shot=shot)
    return build_dataset("3dpes", where, train, query, gallery, expected)

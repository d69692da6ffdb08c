"""MSMT17 (Wei et al., "Person Transfer GAN to Bridge Domain Gap for Person Re-Identification", CVPR 2018).

Two releases, same lists::

    MSMT17_V1/                      MSMT17_V2/
        train/0000/<image>.jpg          mask_train_v2/0000/<image>.jpg
        test/0000/<image>.jpg           mask_test_v2/0000/<image>.jpg
        list_train.txt                  list_train.txt
        list_val.txt                    list_val.txt
        list_query.txt                  list_query.txt
        list_gallery.txt                list_gallery.txt

Each list line is ``<path relative to the train or test folder> <label>``;
the label is the identity (training labels 0..1040, test labels 0..3059).
The camera comes from the file name: ``0000_000_01_0303morning_0015_0.jpg``
has identity 0000, sequence 000, camera 01 (of 15), then the recording
session, frame and detection.

The official protocol trains on ``list_train.txt`` only (30,248 images);
``list_val.txt`` (2,373 more images of the same 1,041 identities) is a
validation set, which ``combine_val=True`` merges into training as many
papers do (32,621 images).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..records import Record, ReIDDataset, relabel
from .common import absolute, build_dataset, layout_error, listing, parse_names, require

LISTS = {"train": "list_train.txt", "val": "list_val.txt", "query": "list_query.txt", "gallery": "list_gallery.txt"}
# (train image folder, test image folder) of each release.
IMAGE_FOLDERS = {"MSMT17_V1": ("train", "test"), "MSMT17_V2": ("mask_train_v2", "mask_test_v2")}
NAME = re.compile(r"(\d+)_(\d+)_(\d{2})_[^/]*\.jpg")
NUM_CAMERAS = 15

# Wei et al., CVPR 2018 (Table 1 and Section 3) and the release's lists.
EXPECTED = {
    "train": {"identities": 1041, "images": 30248, "cameras": NUM_CAMERAS},
    "query": {"identities": 3060, "images": 11659, "cameras": NUM_CAMERAS},
    "gallery": {"identities": 3060, "images": 82161, "cameras": NUM_CAMERAS},
}
# list_train.txt + list_val.txt: the 32,621 training images of the paper.
TRAIN_WITH_VAL_IMAGES = 32621


def read_msmt17(root: str | os.PathLike, *, combine_val: bool = False, version: int | None = None) -> ReIDDataset:
    """MSMT17 from ``root``: a release folder (``MSMT17_V1`` / ``MSMT17_V2``) or the folder holding one.

    Options:
        combine_val: train on list_train + list_val (default: list_train
            only, the official protocol).
        version: 1 or 2, to choose when ``root`` holds both releases
            (default: the one that is there).
    """
    where, release = _find_release(root, version)
    train_dir, test_dir = (where / folder for folder in IMAGE_FOLDERS[release])
    train = _read_list(where, LISTS["train"], train_dir)
    if combine_val:
        train += _read_list(where, LISTS["val"], train_dir)
    query = _read_list(where, LISTS["query"], test_dir)
    gallery = _read_list(where, LISTS["gallery"], test_dir)
    expected = {split: dict(counts) for split, counts in EXPECTED.items()}
    if combine_val:
        expected["train"]["images"] = TRAIN_WITH_VAL_IMAGES
    return build_dataset("msmt17", where, relabel(train), query, gallery, expected)


def _find_release(root: str | os.PathLike, version: int | None) -> tuple[Path, str]:
    """The release folder at or under ``root`` and its name, ``MSMT17_V1`` or ``MSMT17_V2``."""
    if version not in (None, 1, 2):
        raise ValueError(f"version must be 1, 2 or None; got {version!r}")
    releases = [f"MSMT17_V{version}"] if version else list(IMAGE_FOLDERS)
    root_path = absolute(root)
    if not root_path.is_dir():
        raise layout_error("MSMT17", root_path, "no such folder")
    # root is itself a release folder (perhaps renamed) when it holds the lists.
    if root_path.name in releases or (root_path / LISTS["train"]).is_file():
        release = root_path.name if root_path.name in releases else _release_of(root_path, releases)
        return _check(root_path, release), release
    present = [r for r in releases if (root_path / r).is_dir()]
    if len(present) > 1:
        raise layout_error("MSMT17", root_path, f"holds both {' and '.join(present)}: pass version=1 or version=2")
    if not present:
        raise layout_error("MSMT17", root_path, f"missing folder {' or '.join(releases)}")
    return _check(root_path / present[0], present[0]), present[0]


def _release_of(where: Path, releases: list[str]) -> str:
    """The release whose image folders ``where`` holds (the first candidate when none, for the error)."""
    for release in releases:
        if all((where / folder).is_dir() for folder in IMAGE_FOLDERS[release]):
            return release
    return releases[0]


def _check(where: Path, release: str) -> Path:
    require(where, "MSMT17", IMAGE_FOLDERS[release], tuple(LISTS.values()))
    return where


def _read_list(where: Path, list_name: str, image_dir: Path) -> list[Record]:
    """Records of one list file: identity from the label, 0-based camera from the file name."""
    list_path = where / list_name
    paths, pids = [], []
    for number, line in enumerate(list_path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 2 or not fields[1].lstrip("-").isdigit():
            raise layout_error("MSMT17", where, f"{list_name} line {number} is not '<relative path> <label>': "
                                                f"{line!r}")
        paths.append(image_dir / fields[0])
        pids.append(int(fields[1]))
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise layout_error("MSMT17", where, f"{len(missing)} image{'s' if len(missing) > 1 else ''} listed in "
                                            f"{list_name} not found: {listing(missing)}")
    matches = parse_names(paths, NAME, "MSMT17", where, "0000_000_01_0303morning_0015_0.jpg")
    records = []
    for path, pid, match in zip(paths, pids, matches):
        camera = int(match.group(3))
        if not 1 <= camera <= NUM_CAMERAS:
            raise layout_error("MSMT17", where, f"camera {camera} in {path}; cameras are 1..{NUM_CAMERAS}")
        records.append(Record(str(path), pid, camera - 1))
    return records

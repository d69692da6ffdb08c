"""CUHK03 (Li et al., "DeepReID", CVPR 2014): 1,467 identities, 5 camera pairs, two views each.

Accepted in ``root`` (the folder torchreid and most code bases call ``cuhk03/``)::

    cuhk03_release/cuhk-03.mat                 the original release (MATLAB v7.3, i.e. HDF5)
    images_labeled/  images_detected/          or the images already extracted from it
    cuhk03_new_protocol_config_labeled.mat     Zhong et al.'s new split (MATLAB v5),
    cuhk03_new_protocol_config_detected.mat    needed for protocol="new"

``cuhk-03.mat`` holds two cell arrays, ``labeled`` (hand-drawn boxes) and
``detected`` (DPM boxes), of 5 camera pairs; each pair is a cell of
(identities x 10) images, columns 1-5 from the pair's first camera and 6-10
from its second, with empty cells where an identity has fewer images. The
reader extracts them once to PNG files named ``P_III_V_JJ.png`` (camera
pair, identity within the pair, view 1 or 2, column 01-10), the names the
new-protocol config files list, into ``images_<subset>/`` (or ``extract_dir``).

Protocols:

``protocol="new"`` (default)
    Zhong et al., "Re-ranking Person Re-identification with k-reciprocal
    Encoding", CVPR 2017: 767 training and 700 test identities, fixed. The
    config file gives, per image, its name (``filelist``), identity
    (``labels``, 1..1467), camera (``camId``, 1 or 2) and the 1-based indices
    of the training, query and gallery images.
``protocol="classic"``
    Li et al.'s 20 random splits of 1,367 training and 100 test identities,
    as the release fixes them (``split`` 0..19 picks a cell of the
    ``testsets`` array of cuhk-03.mat, which this protocol therefore needs):
    query = the test identities' view-1 images, gallery = their view-2
    images. Identities are numbered ``pair * 1000 + identity within the pair``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import h5py
import numpy as np
import scipy.io
from PIL import Image

from ..records import Record, ReIDDataset, relabel
from .common import absolute, build_dataset, check_choice, layout_error, list_images, listing, parse_names

SUBSETS = ("labeled", "detected")
PROTOCOLS = ("new", "classic")
RELEASE_MAT = Path("cuhk03_release") / "cuhk-03.mat"
CONFIG_FIELDS = ("train_idx", "query_idx", "gallery_idx", "labels", "filelist", "camId")
NAME = re.compile(r"([1-5])_(\d{3})_([12])_(\d{2})\.png")
NAME_EXAMPLE = "1_001_1_01.png"
CLASSIC_TEST_IDS = 100
NUM_IDENTITIES = 1467

# Zhong et al., CVPR 2017 (Section 5.1) and their config files: the
# same 767 / 700 identities for both subsets; image counts differ by subset.
NEW_PROTOCOL_EXPECTED = {
    "labeled": {"train": {"identities": 767, "images": 7368, "cameras": 2},
                "query": {"identities": 700, "images": 1400, "cameras": 2},
                "gallery": {"identities": 700, "images": 5328, "cameras": 2}},
    "detected": {"train": {"identities": 767, "images": 7365, "cameras": 2},
                 "query": {"identities": 700, "images": 1400, "cameras": 2},
                 "gallery": {"identities": 700, "images": 5332, "cameras": 2}},
}
# Li et al., CVPR 2014: 1,367 training and 100 test identities per split;
# query and gallery each hold one view.
CLASSIC_EXPECTED = {
    "train": {"identities": NUM_IDENTITIES - CLASSIC_TEST_IDS, "cameras": 2},
    "query": {"identities": CLASSIC_TEST_IDS, "cameras": 1},
    "gallery": {"identities": CLASSIC_TEST_IDS, "cameras": 1},
}


def read_cuhk03(
    root: str | os.PathLike,
    *,
    subset: str = "labeled",
    protocol: str = "new",
    split: int = 0,
    extract_dir: str | os.PathLike | None = None,
) -> ReIDDataset:
    """CUHK03 from ``root`` (see the module docstring for the accepted layouts).

    Options:
        subset: ``"labeled"`` (hand-drawn boxes) or ``"detected"`` (DPM boxes).
        protocol: ``"new"`` (767/700, default) or ``"classic"`` (1,367/100).
        split: the classic split, 0..19 (classic protocol only).
        extract_dir: where images extracted from cuhk-03.mat go and are looked
            for (default ``<root>/images_<subset>``).
    """
    check_choice("subset", subset, SUBSETS)
    check_choice("protocol", protocol, PROTOCOLS)
    if protocol == "new" and split != 0:
        raise ValueError("split chooses one of the classic protocol's 20 splits; the new protocol has one")
    where = absolute(root)
    if not where.is_dir():
        raise layout_error("CUHK03", where, "no such folder")
    image_dir = absolute(extract_dir) if extract_dir is not None else where / f"images_{subset}"
    mat_path = where / RELEASE_MAT
    if not mat_path.is_file() and not image_dir.is_dir():
        raise layout_error("CUHK03", where, f"missing file {RELEASE_MAT} and folder {image_dir.name}; "
                                            f"expected the release's {RELEASE_MAT} or the images extracted "
                                            f"from it in {image_dir.name}/")
    if protocol == "new":
        return _read_new_protocol(where, subset, image_dir, mat_path)
    return _read_classic_protocol(where, subset, split, image_dir, mat_path)


def _read_new_protocol(where: Path, subset: str, image_dir: Path, mat_path: Path) -> ReIDDataset:
    """Records of Zhong et al.'s split, as its config file lists them."""
    config = _load_config(where, subset)
    names = [str(name) for name in np.atleast_1d(config["filelist"])]
    paths = [image_dir / name for name in names]
    parse_names(paths, NAME, "CUHK03", where, NAME_EXAMPLE)
    _ensure_images(paths, where, subset, image_dir, mat_path)
    labels = np.atleast_1d(config["labels"]).astype(int)
    cameras = np.atleast_1d(config["camId"]).astype(int) - 1

    def records(field: str) -> list[Record]:
        indices = np.atleast_1d(config[field]).astype(int)
        bad = indices[(indices < 1) | (indices > len(names))]
        if bad.size:
            raise layout_error("CUHK03", where, f"{field} of the {subset} config holds indices outside "
                                                f"1..{len(names)}: {listing(bad.tolist())}")
        # The config's indices are MATLAB's, 1-based.
        return [Record(str(paths[i - 1]), int(labels[i - 1]), int(cameras[i - 1])) for i in indices]

    return build_dataset("cuhk03", where, relabel(records("train_idx")), records("query_idx"),
                         records("gallery_idx"), NEW_PROTOCOL_EXPECTED[subset])


def _load_config(where: Path, subset: str) -> dict[str, np.ndarray]:
    """The new-protocol config of ``subset`` (a MATLAB v5 file), checked for its six fields."""
    name = f"cuhk03_new_protocol_config_{subset}.mat"
    if not (where / name).is_file():
        raise layout_error("CUHK03", where, f"missing file {name}; protocol='new' needs Zhong et al.'s config "
                                            "files beside cuhk03_release/")
    try:
        # squeeze_me: MATLAB's N x 1 columns and cells become 1-D arrays of numbers / strings.
        config = scipy.io.loadmat(where / name, squeeze_me=True)
    except (ValueError, OSError, NotImplementedError) as error:  # scipy raises NotImplementedError for v7.3 files
        raise layout_error("CUHK03", where, f"{name} is not a readable MATLAB v5 file ({error})") from None
    missing = [field for field in CONFIG_FIELDS if field not in config]
    if missing:
        raise layout_error("CUHK03", where, f"{name} lacks field{'s' if len(missing) > 1 else ''} "
                                            f"{', '.join(missing)}; expected {', '.join(CONFIG_FIELDS)}")
    return config


def _ensure_images(paths: list[Path], where: Path, subset: str, image_dir: Path, mat_path: Path) -> None:
    """Extract the images from cuhk-03.mat if any of ``paths`` is missing; fail if some still are."""
    missing = [p for p in paths if not p.is_file()]
    if missing and mat_path.is_file():
        extract_images(mat_path, subset, image_dir)
        missing = [p for p in missing if not p.is_file()]
    if missing:
        source = f"nor in {RELEASE_MAT}" if mat_path.is_file() else f"and there is no {RELEASE_MAT} to extract from"
        raise layout_error("CUHK03", where, f"{len(missing)} {subset} image{'s' if len(missing) > 1 else ''} "
                                            f"not in {image_dir} {source}: {listing([str(p) for p in missing])}")


def extract_images(mat_path: str | os.PathLike, subset: str, out_dir: str | os.PathLike) -> int:
    """Write the ``subset`` images of ``cuhk-03.mat`` to ``out_dir`` as PNG files; return how many were written.

    Files already there are kept (the folder is a cache), and each file is
    written under a temporary name first, so an interrupted extraction
    leaves no half-written image behind.
    """
    check_choice("subset", subset, SUBSETS)
    mat_path, out_dir = absolute(mat_path), absolute(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = 0
    with _open_v73(mat_path) as mat:
        if subset not in mat:
            raise layout_error("CUHK03", mat_path.parent, f"{mat_path.name} holds no '{subset}' cell array")
        for pair, pair_ref in enumerate(mat[subset][()].ravel(), start=1):
            # HDF5 stores MATLAB arrays transposed: .T gives MATLAB's (identities x 10).
            for person, row in enumerate(mat[pair_ref][()].T, start=1):
                for column, image_ref in enumerate(row, start=1):
                    view = 1 if column <= 5 else 2
                    target = out_dir / f"{pair}_{person:03d}_{view}_{column:02d}.png"
                    image = mat[image_ref]
                    if target.exists() or _is_empty(image):
                        continue
                    _write_png(image[()].T, target)  # MATLAB's height x width x 3
                    written += 1
    return written


def _open_v73(mat_path: Path) -> h5py.File:
    """``cuhk-03.mat`` opened with h5py, or a layout error saying what is wrong with it."""
    if not mat_path.is_file():
        raise layout_error("CUHK03", mat_path.parent, f"missing file {mat_path.name}")
    try:
        return h5py.File(mat_path, "r")
    except OSError as error:
        raise layout_error("CUHK03", mat_path.parent, f"{mat_path.name} is not a MATLAB v7.3 (HDF5) file "
                                                      f"({error})") from None


def _is_empty(dataset: h5py.Dataset) -> bool:
    """MATLAB v7.3 writes an empty cell as a 2-element array of its dimensions, flagged MATLAB_empty."""
    return bool(dataset.attrs.get("MATLAB_empty", 0)) or dataset.ndim != 3


def _write_png(pixels: np.ndarray, target: Path) -> None:
    partial = target.with_name(target.name + ".partial")
    Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8)).save(partial, format="PNG")
    os.replace(partial, target)


def _read_classic_protocol(where: Path, subset: str, split: int, image_dir: Path, mat_path: Path) -> ReIDDataset:
    """Records of one of Li et al.'s 1,367 / 100 splits."""
    if not mat_path.is_file():
        raise layout_error("CUHK03", where, f"missing file {RELEASE_MAT}; protocol='classic' needs its "
                                            "testsets, which define the 20 official splits")
    test_ids = _classic_test_ids(where, mat_path, split)
    extract_images(mat_path, subset, image_dir)
    paths = list_images(image_dir, (".png",))
    matches = parse_names(paths, NAME, "CUHK03", where, NAME_EXAMPLE)
    train, query, gallery = [], [], []
    for path, match in zip(paths, matches):
        pair, person, view = (int(g) for g in match.group(1, 2, 3))
        record = Record(str(path), pair * 1000 + person, view - 1)
        if (pair, person) not in test_ids:
            train.append(record)
        else:
            (query if view == 1 else gallery).append(record)
    return build_dataset("cuhk03", where, relabel(train), query, gallery, CLASSIC_EXPECTED)


def _classic_test_ids(where: Path, mat_path: Path, split: int) -> set[tuple[int, int]]:
    """The (pair, identity within the pair) test identities of classic split ``split``."""
    with _open_v73(mat_path) as mat:
        if "testsets" not in mat:
            raise layout_error("CUHK03", where, f"{RELEASE_MAT} holds no 'testsets' cell array")
        refs = mat["testsets"][()].ravel()
        if not 0 <= split < len(refs):
            raise ValueError(f"split must be 0..{len(refs) - 1}; got {split}")
        # Each test set is a (100 x 2) MATLAB array of (pair, identity), stored transposed.
        return {(int(pair), int(person)) for pair, person in mat[refs[split]][()].T}

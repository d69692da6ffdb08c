"""Tiny, exact copies of each dataset's layout: the real folder and file names, tiny real images.

Used by the tests and by the book's data chapter to show what each reader
expects without the real data (which cannot be redistributed). Every image
is a real 8 x 16 (width x height) picture, a solid colour made from its
identity and camera, so that PIL opens it and the
:func:`~reidlib.data.datasets.common.verify_images` check passes; MATLAB
files are written as MATLAB writes them (v5 via ``scipy.io.savemat``; v7.3
as HDF5 with MATLAB's 512-byte header, cell arrays of object references in
``#refs#``, and arrays stored transposed).

>>> from reidlib.data.fixtures import write_fixture
>>> root = write_fixture("market1501", "/tmp/fixture")          # doctest: +SKIP
>>> load_dataset("market1501", root)                            # doctest: +SKIP

The content of each fixture (identity, camera) is listed in the constants
below; the tests check the readers against them.
"""

from __future__ import annotations

import os
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Self

import h5py
import numpy as np
import scipy.io
from PIL import Image

WIDTH, HEIGHT = 8, 16

# Market-1501: (identity, camera) per image of each folder; -1 junk, 0 distractor.
MARKET_IMAGES = {
    "bounding_box_train": [(2, 1), (2, 2), (7, 1), (7, 3), (7, 3), (11, 5), (11, 6)],
    "query": [(1, 1), (1, 2), (3, 4)],
    "bounding_box_test": [(1, 1), (1, 3), (3, 5), (3, 6), (0, 1), (0, 2), (-1, 3), (-1, 4)],
}
# DukeMTMC-reID: identity 9 is a gallery-only distractor identity, as Duke has 408.
DUKE_IMAGES = {
    "bounding_box_train": [(1, 1), (1, 2), (5, 3), (5, 8)],
    "query": [(3, 1), (4, 7)],
    "bounding_box_test": [(3, 2), (3, 5), (4, 8), (9, 6)],
}
# MSMT17: (label, camera) per line of each list; test labels restart at 0 as in the release.
MSMT17_LISTS = {
    "list_train.txt": [(0, 1), (0, 3), (1, 2), (1, 2), (2, 15)],
    "list_val.txt": [(0, 5), (1, 7)],
    "list_query.txt": [(0, 4), (1, 9)],
    "list_gallery.txt": [(0, 6), (0, 8), (1, 10), (1, 11)],
}
# CUHK03: identities per camera pair (the release has 843, 440, 77, 58, 49).
CUHK03_PERSONS_PER_PAIR = (3, 2, 1, 1, 1)
# New-protocol labels (1..8, in (pair, person) order) of the test identities.
CUHK03_TEST_LABELS = (2, 5, 7)
CUHK03_NUM_SPLITS = 20
CUHK03_CLASSIC_TEST_IDS = 2
# MARS: (identity, camera, frames) per tracklet; -1 junk, 0 distractors.
MARS_TRACKLETS = {
    "train": [(1, 1, 3), (1, 2, 2), (2, 1, 2), (2, 4, 3)],
    "test": [(3, 1, 2), (3, 2, 3), (4, 3, 2), (4, 6, 2), (0, 5, 2), (-1, 1, 2), (3, 1, 2)],
}
MARS_QUERY_ROWS = (1, 3)  # 1-based rows of the test table, as query_IDX.mat holds them
# VIPeR: identity numbers (not contiguous, as in the release).
VIPER_IDS = (0, 2, 5, 7, 8, 11)
CUHK01_IDS = (1, 2, 3, 4, 5, 6)
# 3DPeS: images per view of each identity; identity 4 has a single view.
THREEDPES_VIEWS = {1: (2, 1), 2: (1, 1, 2), 3: (1, 2), 4: (2,), 5: (1, 1), 6: (2, 2)}


def write_fixture(name: str, root: str | os.PathLike, **options: object) -> Path:
    """Write the fixture of dataset ``name`` under ``root``; return the path to give ``load_dataset``.

    Options per dataset:
        market1501: ``nested=True`` (inside ``Market-1501-v15.09.15/``),
            ``junk_in_train=False`` (add a -1 image to the training folder),
            ``distractors_500k=0`` (images in ``distractors_500k/``).
        dukemtmc: ``nested=True`` (inside ``DukeMTMC-reID/``).
        msmt17: ``version=1`` (``MSMT17_V1/`` or ``MSMT17_V2/``).
        cuhk03: ``layout="mat"`` (``cuhk03_release/cuhk-03.mat``) or
            ``"images"`` (``images_labeled/`` and ``images_detected/``).
        mars, viper, cuhk01, 3dpes, folder: none.
    """
    try:
        writer = FIXTURES[name]
    except KeyError:
        raise ValueError(f"no fixture for dataset {name!r}; choose one of {', '.join(FIXTURES)}") from None
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    return writer(root, **options)


def write_image(path: Path, *key: object, pixels: np.ndarray | None = None) -> None:
    """A solid-colour WIDTH x HEIGHT image whose colour depends on ``key`` (format from the suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if pixels is None:
        pixels = np.empty((HEIGHT, WIDTH, 3), np.uint8)
        pixels[:] = _colour(*key)
    Image.fromarray(pixels).save(path)


def _colour(*key: object) -> tuple[int, int, int]:
    code = zlib.crc32(repr(key).encode())
    return code & 255, (code >> 8) & 255, (code >> 16) & 255


# --- Market-1501, DukeMTMC-reID and plain folders -------------------------------------------------

def _market_pid(pid: int) -> str:
    return "-1" if pid == -1 else f"{pid:04d}"


def _write_market1501(root: Path, nested: bool = True, junk_in_train: bool = False,
                      distractors_500k: int = 0) -> Path:
    where = root / "Market-1501-v15.09.15" if nested else root
    images = {folder: list(items) for folder, items in MARKET_IMAGES.items()}
    if junk_in_train:
        images["bounding_box_train"].append((-1, 2))
    for folder, items in images.items():
        for index, (pid, cam) in enumerate(items):
            # 0002_c1s1_000451_03.jpg: identity, camera, sequence, frame, detection.
            name = f"{_market_pid(pid)}_c{cam}s1_{25 * index + 1:06d}_01.jpg"
            write_image(where / folder / name, folder, pid, cam)
    # Copies zipped on Windows carry a Thumbs.db thumbnail cache beside the images: no image to read.
    (where / "bounding_box_test" / "Thumbs.db").write_bytes(b"\0" * 16)
    for index in range(distractors_500k):
        cam = index % 6 + 1
        write_image(where / "distractors_500k" / f"0000_c{cam}s2_{index:06d}_01.jpg", "500k", index)
    return root


def _write_dukemtmc(root: Path, nested: bool = True) -> Path:
    where = root / "DukeMTMC-reID" if nested else root
    for folder, items in DUKE_IMAGES.items():
        for index, (pid, cam) in enumerate(items):
            write_image(where / folder / f"{pid:04d}_c{cam}_f{46182 + 120 * index:07d}.jpg", folder, pid, cam)
    return root


def _write_folder(root: Path) -> Path:
    """Market-1501's folders with PNG images named ``<identity>_c<camera>_<index>.png``."""
    for folder, items in MARKET_IMAGES.items():
        for index, (pid, cam) in enumerate(items):
            write_image(root / folder / f"{_market_pid(pid)}_c{cam}_{index:03d}.png", folder, pid, cam)
    return root


# --- MSMT17 -----------------------------------------------------------------------------------------

def _write_msmt17(root: Path, version: int = 1) -> Path:
    release = root / f"MSMT17_V{version}"
    train_dir, test_dir = ("train", "test") if version == 1 else ("mask_train_v2", "mask_test_v2")
    frame = 0
    for list_name, items in MSMT17_LISTS.items():
        image_dir = train_dir if list_name in ("list_train.txt", "list_val.txt") else test_dir
        lines = []
        for pid, cam in items:
            frame += 1
            # 0000_000_01_0303morning_0015_0.jpg: identity, sequence, camera, session, frame, detection.
            relative = f"{pid:04d}/{pid:04d}_{frame:03d}_{cam:02d}_0303morning_{frame:04d}_0.jpg"
            write_image(release / image_dir / relative, list_name, pid, cam)
            lines.append(f"{relative} {pid}\n")
        (release / list_name).write_text("".join(lines))
    return root


# --- CUHK03 -----------------------------------------------------------------------------------------

def _cuhk03_identities() -> list[tuple[int, int]]:
    """(camera pair, identity within the pair) in release order; the new-protocol label is index + 1."""
    return [(pair, person) for pair, count in enumerate(CUHK03_PERSONS_PER_PAIR, start=1)
            for person in range(1, count + 1)]


def _cuhk03_columns(subset: str, pair: int, person: int) -> list[int]:
    """Columns (1-5 view 1, 6-10 view 2) holding an image; the rest are empty cells."""
    if subset == "detected" and (pair + person) % 2:
        return [1, 6, 7]  # a missed detection
    return [1, 2, 6, 7]


def _cuhk03_pixels(subset: str, pair: int, person: int, column: int) -> np.ndarray:
    """An image with a vertical ramp in its red channel, so a transposed extraction shows."""
    pixels = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    pixels[:] = _colour(subset, pair, person, column)
    pixels[:, :, 0] = np.arange(HEIGHT, dtype=np.uint8)[:, None] * 15
    return pixels


def _cuhk03_name(pair: int, person: int, column: int) -> str:
    return f"{pair}_{person:03d}_{1 if column <= 5 else 2}_{column:02d}.png"


def _write_cuhk03(root: Path, layout: str = "mat") -> Path:
    if layout not in ("mat", "images"):
        raise ValueError(f"layout must be 'mat' or 'images'; got {layout!r}")
    if layout == "mat":
        _write_cuhk03_mat(root / "cuhk03_release" / "cuhk-03.mat")
    for subset in ("labeled", "detected"):
        if layout == "images":
            for pair, person in _cuhk03_identities():
                for column in _cuhk03_columns(subset, pair, person):
                    write_image(root / f"images_{subset}" / _cuhk03_name(pair, person, column),
                                pixels=_cuhk03_pixels(subset, pair, person, column))
        _write_cuhk03_config(root / f"cuhk03_new_protocol_config_{subset}.mat", subset)
    return root


def _write_cuhk03_config(path: Path, subset: str) -> None:
    """Zhong et al.'s config file: per image its name, label and camera; 1-based split indices."""
    names, labels, cameras = [], [], []
    for label, (pair, person) in enumerate(_cuhk03_identities(), start=1):
        for column in _cuhk03_columns(subset, pair, person):
            names.append(_cuhk03_name(pair, person, column))
            labels.append(label)
            cameras.append(1 if column <= 5 else 2)
    train, query, gallery = [], [], []
    first_of_view: set[tuple[int, int]] = set()
    for index, (label, camera) in enumerate(zip(labels, cameras), start=1):
        if label not in CUHK03_TEST_LABELS:
            train.append(index)
        elif (label, camera) not in first_of_view:  # one query image per identity and camera
            first_of_view.add((label, camera))
            query.append(index)
        else:
            gallery.append(index)

    def column(values: Sequence[object], dtype: object = np.float64) -> np.ndarray:
        return np.asarray(values, dtype=dtype).reshape(-1, 1)

    filelist = np.empty((len(names), 1), dtype=object)  # a MATLAB cell column of strings
    filelist[:, 0] = names
    scipy.io.savemat(path, {"filelist": filelist, "labels": column(labels), "camId": column(cameras),
                            "train_idx": column(train), "query_idx": column(query),
                            "gallery_idx": column(gallery)})


def _write_cuhk03_mat(path: Path) -> None:
    """cuhk-03.mat as MATLAB v7.3 writes it: ``labeled``, ``detected`` and ``testsets`` cell arrays."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _MatV73Writer(path) as mat:
        for subset in ("labeled", "detected"):
            pairs = []
            for pair, count in enumerate(CUHK03_PERSONS_PER_PAIR, start=1):
                cells = np.empty((count, 10), dtype=object)  # identities x 10 columns
                for person in range(1, count + 1):
                    columns = _cuhk03_columns(subset, pair, person)
                    for column in range(1, 11):
                        cells[person - 1, column - 1] = (
                            mat.array(_cuhk03_pixels(subset, pair, person, column), "uint8")
                            if column in columns else mat.empty())
                pairs.append(mat.cell(cells))
            mat.variable_cell(subset, np.array(pairs, dtype=object).reshape(-1, 1))
        identities = _cuhk03_identities()
        testsets = []
        for split in range(CUHK03_NUM_SPLITS):
            chosen = np.random.default_rng(split).choice(len(identities), CUHK03_CLASSIC_TEST_IDS, replace=False)
            testsets.append(mat.array(np.array([identities[i] for i in sorted(chosen)], np.float64), "double"))
        mat.variable_cell("testsets", np.array(testsets, dtype=object).reshape(-1, 1))


class _MatV73Writer:
    """A minimal MATLAB v7.3 writer: numeric arrays and cell arrays of them.

    MATLAB stores column-major arrays, so HDF5 sees every array transposed;
    a cell array is an HDF5 array of object references to datasets in the
    ``#refs#`` group; an empty cell refers to a 2-element uint64 array of
    its dimensions flagged ``MATLAB_empty``; the file starts with a 512-byte
    user block holding MATLAB's text header.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file = h5py.File(path, "w", userblock_size=512, libver="earliest")
        self.refs = self.file.create_group("#refs#")
        self.count = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.file.close()
        _write_mat_header(self.path)

    def _new(self, data: np.ndarray, matlab_class: str, dtype: object = None) -> h5py.Dataset:
        self.count += 1
        dataset = self.refs.create_dataset(f"r{self.count}", data=data, dtype=dtype)
        dataset.attrs["MATLAB_class"] = np.bytes_(matlab_class)
        return dataset

    def array(self, values: np.ndarray, matlab_class: str) -> h5py.Reference:
        return self._new(np.asarray(values).T, matlab_class).ref

    def empty(self) -> h5py.Reference:
        dataset = self._new(np.zeros(2, np.uint64), "double")
        dataset.attrs["MATLAB_empty"] = np.uint8(1)
        return dataset.ref

    def cell(self, references: np.ndarray) -> h5py.Reference:
        return self._new(references.T, "cell", dtype=h5py.ref_dtype).ref

    def variable_cell(self, name: str, references: np.ndarray) -> None:
        dataset = self.file.create_dataset(name, data=references.T, dtype=h5py.ref_dtype)
        dataset.attrs["MATLAB_class"] = np.bytes_("cell")


def _write_mat_header(path: Path) -> None:
    """MATLAB's 128-byte header (text, subsystem offset, version 0x0200, endian 'IM') in the user block."""
    text = (f"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: "
            f"{time.strftime('%a %b %d %H:%M:%S %Y', time.gmtime(0))} HDF5 schema 1.00 .")
    header = text.encode("ascii").ljust(116, b" ") + b" " * 8 + (0x0200).to_bytes(2, "little") + b"IM"
    with open(path, "r+b") as file:
        file.write(header)


# --- MARS -------------------------------------------------------------------------------------------

def _mars_pid(pid: int) -> str:
    return "00-1" if pid == -1 else f"{pid:04d}"


def _write_mars(root: Path) -> Path:
    info = root / "info"
    info.mkdir(parents=True, exist_ok=True)
    for split, folder in (("train", "bbox_train"), ("test", "bbox_test")):
        names, rows, per_identity_camera = [], [], {}
        for pid, cam, frames in MARS_TRACKLETS[split]:
            # Tracklets are numbered per identity and camera: 0001C1T0001, 0001C1T0002, ...
            tracklet = per_identity_camera[pid, cam] = per_identity_camera.get((pid, cam), 0) + 1
            start = len(names) + 1
            for frame in range(1, frames + 1):
                name = f"{_mars_pid(pid)}C{cam}T{tracklet:04d}F{frame:03d}.jpg"
                write_image(root / folder / _mars_pid(pid) / name, split, pid, cam, tracklet)
                names.append(name)
            rows.append([start, len(names), pid, cam])
        (info / f"{split}_name.txt").write_text("".join(n + "\n" for n in names))
        scipy.io.savemat(info / f"tracks_{split}_info.mat", {f"track_{split}_info": np.array(rows, np.float64)})
    scipy.io.savemat(info / "query_IDX.mat", {"query_IDX": np.array([MARS_QUERY_ROWS], np.float64)})
    return root


# --- VIPeR, CUHK01, 3DPeS ---------------------------------------------------------------------------

def _write_viper(root: Path) -> Path:
    angles = (0, 45, 90, 135, 180)
    for index, number in enumerate(VIPER_IDS):
        write_image(root / "VIPeR" / "cam_a" / f"{number:03d}_{angles[index % 5]}.bmp", "a", number)
        write_image(root / "VIPeR" / "cam_b" / f"{number:03d}_{angles[(index + 2) % 5]}.bmp", "b", number)
    return root


def _write_cuhk01(root: Path) -> Path:
    for pid in CUHK01_IDS:
        for image in range(1, 5):
            write_image(root / "campus" / f"{pid:04d}{image:03d}.png", pid, image)
    return root


def _write_3dpes(root: Path) -> Path:
    for pid, views in THREEDPES_VIEWS.items():
        for view, count in enumerate(views, start=1):
            for frame in range(count):
                name = f"{pid:03d}_{view}_{100 * view + frame:04d}.bmp"
                write_image(root / "3DPeS" / "RGB" / name, pid, view, frame)
    return root


FIXTURES: dict[str, Callable[..., Path]] = {
    "market1501": _write_market1501,
    "dukemtmc": _write_dukemtmc,
    "msmt17": _write_msmt17,
    "cuhk03": _write_cuhk03,
    "mars": _write_mars,
    "viper": _write_viper,
    "cuhk01": _write_cuhk01,
    "3dpes": _write_3dpes,
    "folder": _write_folder,
}

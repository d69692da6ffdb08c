"""What the dataset readers share.

* :class:`DatasetLayoutError`: the one error a reader raises for a folder that
  is not the dataset as its authors distribute it, with a message that names
  the folder and says what is missing or unexpected.
* :func:`locate`, :func:`require`: find the release folder and check it.
* :func:`list_images`, :func:`parse_names`: list a folder's images and parse
  their file names, reporting every name that does not parse (by path) rather
  than skipping it: a silently dropped image shifts every count after it.
* :func:`two_camera_split`: the repeated random split of the small two-camera
  datasets (VIPeR, CUHK01, 3DPeS).
* :func:`verify_images`: the opt-in check that every image decodes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path

import numpy as np

from ..images import IMAGE_EXTENSIONS, ImageReadError, read_image
from ..records import Record, ReIDDataset, relabel

# How many offending paths an error message lists before "and N more".
MAX_LISTED = 5


class DatasetLayoutError(ValueError):
    """A dataset folder is missing something, or holds something a reader cannot parse."""


def layout_error(dataset: str, where: str | os.PathLike, problem: str) -> DatasetLayoutError:
    """``DatasetLayoutError("<dataset> at <where>: <problem>")``, the form of every reader's message."""
    return DatasetLayoutError(f"{dataset} at {where}: {problem}")


def listing(items: Sequence[object], limit: int = MAX_LISTED) -> str:
    """``a, b, c`` for a short list; the first ``limit`` items and ``and 7 more`` for a long one."""
    shown = ", ".join(str(item) for item in items[:limit])
    rest = len(items) - limit
    return shown + (f" and {rest} more" if rest > 0 else "")


def absolute(path: str | os.PathLike) -> Path:
    """``path`` made absolute without resolving symbolic links (records keep the user's paths)."""
    return Path(os.path.abspath(os.path.expanduser(path)))


def locate(
    root: str | os.PathLike,
    dataset: str,
    folders: Sequence[str] = (),
    files: Sequence[str] = (),
    release_names: Sequence[str] = (),
) -> Path:
    """The folder holding ``folders`` and ``files``: ``root`` itself or ``root/<release name>``.

    Releases unpack into a folder of their own (``Market-1501-v15.09.15/``), so
    users pass either that folder or the one that contains it. When neither
    is complete, the error describes the candidate that came closest.
    """
    root = absolute(root)
    if not root.is_dir():
        raise layout_error(dataset, root, "no such folder")
    candidates = [root] + [root / name for name in release_names if (root / name).is_dir()]
    for candidate in candidates:
        if not _missing(candidate, folders, files):
            return candidate
    closest = min(candidates, key=lambda c: len(_missing(c, folders, files)))
    raise layout_error(dataset, closest, _describe_missing(closest, folders, files))


def _missing(where: Path, folders: Sequence[str], files: Sequence[str]) -> list[tuple[str, str]]:
    return ([("folder", f) for f in folders if not (where / f).is_dir()]
            + [("file", f) for f in files if not (where / f).is_file()])


def _describe_missing(where: Path, folders: Sequence[str], files: Sequence[str]) -> str:
    """``missing folder a; expected a, b, c``, or ``""`` when nothing is missing."""
    missing = _missing(where, folders, files)
    if not missing:
        return ""
    parts = []
    for kind in ("folder", "file"):
        names = [name for k, name in missing if k == kind]
        if names:
            parts.append(f"missing {kind}{'s' if len(names) > 1 else ''} {', '.join(names)}")
    problem = "; ".join(parts) + f"; expected {', '.join([*folders, *files])}"
    # A common slip: pointing at one of the subfolders instead of the release folder.
    if where.name in folders:
        problem += f" ({where.name} is itself one of them: pass its parent folder)"
    return problem


def require(where: Path, dataset: str, folders: Sequence[str] = (), files: Sequence[str] = ()) -> None:
    """Raise a :class:`DatasetLayoutError` naming each of ``folders`` / ``files`` absent from ``where``.

    The message reads e.g. ``Market-1501 at /x: missing folder
    bounding_box_test; expected bounding_box_train, bounding_box_test, query``.
    """
    problem = _describe_missing(where, folders, files)
    if problem:
        raise layout_error(dataset, where, problem)


def list_images(folder: Path, suffixes: Iterable[str] = IMAGE_EXTENSIONS) -> list[Path]:
    """The image files directly in ``folder`` (by suffix, case-insensitive), sorted by name.

    Other files are not images of the dataset and are left out: releases
    carry the odd ``Thumbs.db`` or readme beside the images.
    """
    suffixes = tuple(s.lower() for s in suffixes)
    with os.scandir(folder) as entries:
        names = sorted(e.name for e in entries if e.is_file() and e.name.lower().endswith(suffixes))
    return [folder / name for name in names]


def parse_names(
    paths: Sequence[Path], pattern: re.Pattern[str], dataset: str, where: str | os.PathLike, example: str
) -> list[re.Match[str]]:
    """``pattern.fullmatch`` of each file name; a :class:`DatasetLayoutError` naming those that fail."""
    matches = [pattern.fullmatch(p.name) for p in paths]
    bad = [str(p) for p, m in zip(paths, matches) if m is None]
    if bad:
        raise layout_error(dataset, where, f"{len(bad)} file name{'s' if len(bad) > 1 else ''} "
                                           f"not like {example}: {listing(bad)}")
    return matches  # type: ignore[return-value]  # no None left


def check_choice(option: str, value: object, choices: Sequence[object]) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{option} must be one of {', '.join(map(repr, choices))}; got {value!r}")


def build_dataset(
    name: str,
    root: Path,
    train: list[Record],
    query: list[Record],
    gallery: list[Record],
    expected: dict[str, dict[str, int]],
    is_video: bool = False,
) -> ReIDDataset:
    """A :class:`ReIDDataset` whose counts have been compared with ``expected`` (a warning per difference)."""
    dataset = ReIDDataset(name=name, root=str(root), train=train, query=query, gallery=gallery,
                          expected=expected, is_video=is_video)
    dataset.check_statistics()
    return dataset


def two_camera_split(
    views: dict[int, tuple[list[str], list[str]]],
    *,
    num_test_ids: int,
    split_seed: int,
    shot: str = "multi",
    dataset: str,
    where: Path,
    test_candidates: Collection[int] | None = None,
) -> tuple[list[Record], list[Record], list[Record]]:
    """The usual protocol of VIPeR, CUHK01 and 3DPeS: a random identity split.

    ``views`` maps each identity to its (camera A, camera B) image paths.
    ``num_test_ids`` identities, drawn with ``numpy.random.default_rng(split_seed)``
    (so a seed always gives the same split), form the test set:
    query = their camera A images, gallery = their camera B images; the
    others, both cameras, are the training set (relabelled 0..N-1). With
    ``shot="single"`` one random image per test identity and camera is kept
    (the single-shot protocol); training keeps all images either way.
    Camera ids: 0 for camera A, 1 for camera B. Test identities are drawn
    from ``test_candidates`` (default: all), and at least one identity is
    left for training.
    """
    check_choice("shot", shot, ("single", "multi"))
    pids = sorted(views)
    candidates = pids if test_candidates is None else sorted(test_candidates)
    most = min(len(candidates), len(pids) - 1)
    if not 0 < num_test_ids <= most:
        raise ValueError(f"num_test_ids={num_test_ids}, but {dataset} at {where} has {len(pids)} identities "
                         f"({len(candidates)} usable for testing): choose 1..{most}")
    rng = np.random.default_rng(split_seed)
    test_ids = set(rng.choice(candidates, size=num_test_ids, replace=False).tolist())
    train, query, gallery = [], [], []
    for pid in pids:
        cam_a, cam_b = views[pid]
        if pid not in test_ids:
            train += [Record(p, pid, 0) for p in cam_a] + [Record(p, pid, 1) for p in cam_b]
            continue
        if shot == "single":
            cam_a, cam_b = [cam_a[rng.integers(len(cam_a))]], [cam_b[rng.integers(len(cam_b))]]
        query += [Record(p, pid, 0) for p in cam_a]
        gallery += [Record(p, pid, 1) for p in cam_b]
    return relabel(train), query, gallery


def two_camera_expected(num_ids: int, num_test_ids: int, images_per_camera: int | None,
                        shot: str) -> dict[str, dict[str, int]]:
    """Official counts under :func:`two_camera_split`, from the dataset's totals.

    ``images_per_camera`` is the fixed number of images per identity and
    camera (1 for VIPeR, 2 for CUHK01), ``None`` where it varies (3DPeS):
    then only identities and cameras are compared.
    """
    num_train = num_ids - num_test_ids
    expected = {"train": {"identities": num_train, "cameras": 2},
                "query": {"identities": num_test_ids, "cameras": 1},
                "gallery": {"identities": num_test_ids, "cameras": 1}}
    if images_per_camera is not None:
        per_test_id = 1 if shot == "single" else images_per_camera
        expected["train"]["images"] = 2 * images_per_camera * num_train
        expected["query"]["images"] = expected["gallery"]["images"] = per_test_id * num_test_ids
    return expected


def verify_images(records: Iterable[Record]) -> list[str]:
    """Paths of the records' images that PIL cannot open and decode (each path checked once).

    Decoding every pixel is slow on a large dataset (minutes for MSMT17),
    which is why readers leave it to this opt-in check.
    """
    failed, seen = [], set()
    for record in records:
        if record.path in seen:
            continue
        seen.add(record.path)
        try:
            read_image(record.path)
        except ImageReadError:
            failed.append(record.path)
    return failed

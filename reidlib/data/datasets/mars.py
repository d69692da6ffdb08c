"""MARS (Zheng et al., "MARS: A Video Benchmark for Large-Scale Person Re-identification", ECCV 2016).

The layout, as released (frames in ``bbox_*``, the protocol in ``info/``)::

    bbox_train/0001/0001C1T0001F001.jpg     identity 0001, camera 1, tracklet 0001, frame 001
    bbox_test/0000/...  bbox_test/00-1/...  distractors (0000) and junk (00-1) of the test set
    info/train_name.txt                     frame names of bbox_train, in tracklet order
    info/test_name.txt                      frame names of bbox_test
    info/tracks_train_info.mat              track_train_info: one row per tracklet:
    info/tracks_test_info.mat               track_test_info:  start, end (1-based rows of the
                                            name list), identity, camera (1..6)
    info/query_IDX.mat                      query_IDX: 1-based rows of the test track table

Records are frames; ``Record.tracklet`` numbers the tracklets of the whole
dataset (training tracklets first, then test tracklets, in table order).
Protocol of the official evaluation code: query = the frames of the 1,980
query tracklets; gallery = the frames of all 12,180 test tracklets, the
query tracklets included (the same-camera rule of the evaluation removes
each query's own tracklet); identity -1 (junk) and 0 (distractors) as in
Market-1501.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import scipy.io

from ..records import Record, ReIDDataset, relabel
from .common import build_dataset, layout_error, listing, locate

FOLDERS = ("bbox_train", "bbox_test", "info")
FILES = ("info/train_name.txt", "info/test_name.txt", "info/tracks_train_info.mat",
         "info/tracks_test_info.mat", "info/query_IDX.mat")
NAME = re.compile(r"(\d{4}|00-1)C(\d)T(\d{4})F(\d+)\.jpg")
NAME_EXAMPLE = "0001C1T0001F001.jpg"
NUM_CAMERAS = 6
JUNK_PID = -1

# The MARS readme and Zheng et al., ECCV 2016: 625 training identities in
# 8,298 tracklets (509,914 frames); the test set's 12,180 tracklets (681,089
# frames) carry 636 identity labels, counting 0000 and 00-1 as its folders
# do; 1,980 query tracklets of 626 identities. Query frame counts are not
# published.
EXPECTED = {
    "train": {"identities": 625, "tracklets": 8298, "images": 509914, "cameras": NUM_CAMERAS},
    "query": {"identities": 626, "tracklets": 1980, "cameras": NUM_CAMERAS},
    "gallery": {"identities": 636, "tracklets": 12180, "images": 681089, "cameras": NUM_CAMERAS},
}


def read_mars(root: str | os.PathLike) -> ReIDDataset:
    """MARS from ``root``: the folder holding ``bbox_train/``, ``bbox_test/`` and ``info/``, or its parent."""
    where = locate(root, "MARS", FOLDERS, FILES, release_names=("MARS", "mars"))
    train_tracks = _load_table(where, "tracks_train_info.mat", "track_train_info")
    test_tracks = _load_table(where, "tracks_test_info.mat", "track_test_info")
    query_rows = _load_query_rows(where, len(test_tracks))
    train_frames = _tracklet_frames(where, "bbox_train", "train_name.txt", train_tracks, first_id=0)
    test_frames = _tracklet_frames(where, "bbox_test", "test_name.txt", test_tracks, first_id=len(train_tracks))
    # Junk is no identity to learn (MARS's training set has none, but a re-packed copy might).
    train = relabel([r for frames in train_frames for r in frames if r.pid != JUNK_PID])
    query = [r for row in query_rows for r in test_frames[row]]
    gallery = [r for frames in test_frames for r in frames]
    return build_dataset("mars", where, train, query, gallery, EXPECTED, is_video=True)


def _load_table(where: Path, file_name: str, variable: str) -> np.ndarray:
    """The (tracklets x 4) integer table ``variable`` of ``info/<file_name>``."""
    table = _load_variable(where, file_name, variable).astype(int)
    if table.ndim != 2 or table.shape[1] != 4:
        raise layout_error("MARS", where, f"{variable} in info/{file_name} has shape {table.shape}; "
                                          "expected (tracklets, 4): start, end, identity, camera")
    return table


def _load_query_rows(where: Path, num_test_tracks: int) -> list[int]:
    """0-based rows of the test track table that are queries."""
    rows = _load_variable(where, "query_IDX.mat", "query_IDX").astype(int).ravel()
    bad = rows[(rows < 1) | (rows > num_test_tracks)]
    if bad.size:
        raise layout_error("MARS", where, f"query_IDX holds rows outside 1..{num_test_tracks}: "
                                          f"{listing(bad.tolist())}")
    return (rows - 1).tolist()  # MATLAB indices are 1-based


def _load_variable(where: Path, file_name: str, variable: str) -> np.ndarray:
    try:
        contents = scipy.io.loadmat(where / "info" / file_name)
    except (ValueError, OSError, NotImplementedError) as error:  # scipy raises NotImplementedError for v7.3 files
        raise layout_error("MARS", where, f"info/{file_name} is not a readable MATLAB v5 file ({error})") from None
    if variable not in contents:
        raise layout_error("MARS", where, f"info/{file_name} holds no variable {variable}")
    return np.asarray(contents[variable])


def _tracklet_frames(where: Path, folder: str, names_file: str, tracks: np.ndarray,
                     first_id: int) -> list[list[Record]]:
    """The frame records of each tracklet (row) of ``tracks``; tracklet ids count from ``first_id``.

    A frame lives at ``<folder>/<first 4 characters of its name>/<name>``.
    """
    names = (where / "info" / names_file).read_text().split()
    # Plain strings, not Path objects: MARS has 1.2 million frames.
    frame_folder = str(where / folder)
    tracklets = []
    for row, (start, end, pid, camera) in enumerate(tracks.tolist(), start=1):
        if not 1 <= start <= end <= len(names):
            raise layout_error("MARS", where, f"row {row} of the {folder} track table spans frames "
                                              f"{start}..{end}, outside 1..{len(names)} of info/{names_file}")
        if not 1 <= camera <= NUM_CAMERAS:
            raise layout_error("MARS", where, f"row {row} of the {folder} track table has camera {camera}; "
                                              f"cameras are 1..{NUM_CAMERAS}")
        paths = [os.path.join(frame_folder, name[:4], name) for name in names[start - 1:end]]
        _check_frame_names(where, paths, row, pid, camera)
        tracklets.append([Record(path, pid, camera - 1, tracklet=first_id + row - 1) for path in paths])
    return tracklets


def _check_frame_names(where: Path, paths: list[str], row: int, pid: int, camera: int) -> None:
    """Each frame's name must parse and repeat the identity and camera of its tracklet's row."""
    for path in paths:
        match = NAME.fullmatch(os.path.basename(path))
        if match is None:
            raise layout_error("MARS", where, f"frame name {path} is not like {NAME_EXAMPLE}")
        name_pid = JUNK_PID if match.group(1) == "00-1" else int(match.group(1))
        if (name_pid, int(match.group(2))) != (pid, camera):
            raise layout_error("MARS", where, f"frame {path} is in tracklet row {row} of identity {pid}, "
                                              f"camera {camera}, but its name says identity {name_pid}, "
                                              f"camera {match.group(2)}")

"""What a dataset reader returns: image records grouped into train / query / gallery."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import pandas as pd


@dataclass(frozen=True)
class Record:
    """One image of a re-ID split.

    ``pid`` is the identity (relabelled to 0..N-1 in training splits; the
    original label otherwise, with Market-1501's -1 for junk and 0 for
    distractors), ``camid`` the 0-based camera, ``tracklet`` the video
    tracklet the frame belongs to (-1 for image datasets).
    """

    path: str
    pid: int
    camid: int
    tracklet: int = -1


@dataclass
class ReIDDataset:
    """Train, query and gallery records of one dataset (or one split of it)."""

    name: str
    root: str
    train: list[Record]
    query: list[Record]
    gallery: list[Record]
    # Official image / identity / camera counts, for the sanity check in ``statistics``.
    expected: dict[str, dict[str, int]] = field(default_factory=dict)
    is_video: bool = False

    @property
    def num_train_pids(self) -> int:
        return len({r.pid for r in self.train})

    @property
    def num_train_cams(self) -> int:
        return len({r.camid for r in self.train})

    def statistics(self) -> pd.DataFrame:
        """Identities, images, cameras (and tracklets for video) per split."""
        rows = {}
        for split in ("train", "query", "gallery"):
            recs = getattr(self, split)
            row = {"identities": len({r.pid for r in recs}), "images": len(recs),
                   "cameras": len({r.camid for r in recs})}
            if self.is_video:
                row["tracklets"] = len({r.tracklet for r in recs})
            rows[split] = row
        return pd.DataFrame(rows).T

    def check_statistics(self) -> list[str]:
        """Differences from the official counts, as messages; each is also a warning."""
        stats = self.statistics()
        problems = []
        for split, counts in self.expected.items():
            for key, want in counts.items():
                got = int(stats.loc[split, key])
                if got != want:
                    problems.append(f"{self.name} {split}: {got} {key}, the official release has {want}")
        for msg in problems:
            warnings.warn(msg + f" (root: {self.root})", stacklevel=2)
        return problems


def relabel(records: Sequence[Record]) -> list[Record]:
    """Training records with identities mapped to 0..N-1 in order of first (sorted) appearance."""
    mapping = {pid: i for i, pid in enumerate(sorted({r.pid for r in records}))}
    return [replace(r, pid=mapping[r.pid]) for r in records]


def one_image_per_camera(records: Sequence[Record], pid: int) -> list[Record]:
    """The first record of identity ``pid`` in each camera, in camera order (for figures)."""
    first: dict[int, Record] = {}
    for r in records:
        if r.pid == pid:
            first.setdefault(r.camid, r)
    return [first[c] for c in sorted(first)]

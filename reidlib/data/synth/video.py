"""SynthReID as a video benchmark: its tracklets under the MARS protocol.

Every SynthReID person is filmed in tracklets (a few consecutive frames per
camera pass), and ``meta.json`` records which tracklet each image belongs to.
:func:`video_view` turns a generated dataset into a MARS-style one
(``is_video``): the query is the set of whole tracklets that contain the
image dataset's query images; the gallery is every test tracklet, the query
tracklets included, as in MARS, whose same-camera rule then removes each
query's own tracklet (and every other tracklet of that person in that
camera). Junk crops and distractor images count as one-frame tracklets.
The training split is unchanged, so a model trained on the image dataset is
tested on the video view without retraining
(``data.test_dataset_options={video: true}``).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from ..records import Record, ReIDDataset


def _tracklet_keys(root: Path) -> dict[str, tuple]:
    meta = json.loads((root / "meta.json").read_text())["images"]
    keys = {}
    for i, (path, unit, cam, tracklet, junk) in enumerate(
            zip(meta["path"], meta["unit"], meta["camid"], meta["tracklet"], meta["junk"])):
        # A tracklet is one unit's pass in one camera; junk crops stand alone.
        keys[path] = ("junk", i) if junk else (unit, cam, tracklet)
    return keys


def video_view(ds: ReIDDataset) -> ReIDDataset:
    """The MARS-style video dataset of a generated SynthReID image dataset (see the module docstring)."""
    root = Path(ds.root)
    if not (root / "meta.json").exists():
        raise ValueError(f"{root} has no meta.json: only a generated SynthReID dataset has tracklets to view as video")
    keys = _tracklet_keys(root)
    number: dict[tuple, int] = {}

    def numbered(records: list[Record]) -> list[Record]:
        out = []
        for r in records:
            rel = Path(r.path).resolve().relative_to(root.resolve()).as_posix()
            if rel not in keys:
                raise ValueError(f"{rel} is not listed in {root / 'meta.json'}: regenerate the dataset")
            out.append(replace(r, tracklet=number.setdefault(keys[rel], len(number))))
        return out

    train = numbered(ds.train)
    test = numbered(ds.query + ds.gallery)
    query_tracklets = {r.tracklet for r in test[:len(ds.query)]}
    return ReIDDataset(name=f"{ds.name} (video)", root=ds.root, train=train,
                       query=[r for r in test if r.tracklet in query_tracklets], gallery=test, is_video=True)

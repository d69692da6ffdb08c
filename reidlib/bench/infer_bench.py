"""Inference cost per method: parameters used at test time, FLOPs and images per second.

Each method is built at the profile's input size (untrained: the cost does
not depend on the weights) and runs its test-time forward pass on one batch
of the profile's dataset in eval mode, without flipping. Images per second
are timed over ``--repeats`` passes after one untimed pass, with the
machine's default number of threads; the methods are timed in turn,
``--rounds`` times, and each keeps its median (a shared machine's speed
drifts over seconds, and timing in turn lets the drift hit every method
alike).

Examples::

    python -m reidlib.bench infer                                   # every method, cpu profile
    python -m reidlib.bench infer --profile gpu --methods ide,fanet --batch 128
"""

from __future__ import annotations

import tempfile
import time

import numpy as np
import torch

from reidlib.paths import PROFILES

METHODS = ("ide", "fanet", "ftn", "bgbias", "mgcam", "fmn")


def add_arguments(parser) -> None:
    parser.add_argument("--profile", default="cpu", choices=PROFILES)
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated methods (default: %(default)s)")
    parser.add_argument("--batch", type=int, default=64, help="images per forward pass")
    parser.add_argument("--repeats", type=int, default=5, help="timed forward passes per timing")
    parser.add_argument("--rounds", type=int, default=5, help="timings of each method, taken in turn")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")


def test_batch(trainer, size: int) -> dict:
    """``size`` query images of a built :class:`reidlib.engine.Trainer`, test transforms, on its device."""
    from reidlib.engine.trainer import _to_device

    images = trainer.data.query.dataset
    if len(images) < size:
        raise ValueError(f"the query set has {len(images)} images, fewer than a batch of {size}; lower --batch")
    samples = [images[i] for i in range(size)]
    # (the default collate's stacking; names such as "path" and "split" stay lists)
    batch = torch.utils.data.default_collate([{k: v for k, v in s.items() if k != "tracklet"} for s in samples])
    return _to_device(batch, trainer.device, trainer.channels_last)


@torch.inference_mode()
def images_per_second(model, batch: dict, repeats: int = 5) -> float:
    """Test-time embeddings per second of ``model`` on ``batch`` (one untimed pass first)."""
    model.eval()
    model.embed(batch)
    sync = torch.cuda.synchronize if batch["image"].is_cuda else (lambda: None)
    sync()
    start = time.perf_counter()
    for _ in range(repeats):
        model.embed(batch)
    sync()
    return repeats * len(batch["image"]) / (time.perf_counter() - start)


def _cost(trainer, batch: dict) -> dict:
    from reidlib.models.cost import inference_cost

    cost = inference_cost(trainer.model, batch)
    return {"parameters (M)": cost["parameters"] / 1e6, "all parameters (M)": cost["all_parameters"] / 1e6,
            "GFLOPs / image": cost["flops"] / 1e9, "device": str(trainer.device), "batch": len(batch["image"])}


def figures(trainer, batch_size: int = 64, repeats: int = 5) -> dict:
    """Parameters at inference (M), GFLOPs per image and images/s of a built trainer's model."""
    batch = test_batch(trainer, batch_size)
    return {**_cost(trainer, batch), "images / s": images_per_second(trainer.model, batch, repeats)}


def figures_side_by_side(trainers: dict, batch_size: int = 64, repeats: int = 5, rounds: int = 5) -> dict[str, dict]:
    """:func:`figures` of several built trainers (``label -> trainer``), their speeds timed in turn.

    Each model is timed ``rounds`` times, one after another, and keeps the
    median, so that a machine whose speed drifts (other tenants, clock
    changes) slows every model alike and their ratios hold.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, not {rounds}")
    batches = {label: test_batch(t, batch_size) for label, t in trainers.items()}
    speeds: dict[str, list[float]] = {label: [] for label in trainers}
    for _ in range(rounds):
        for label, t in trainers.items():
            speeds[label].append(images_per_second(t.model, batches[label], repeats))
    return {label: {**_cost(t, batches[label]), "images / s": float(np.median(speeds[label]))}
            for label, t in trainers.items()}


def run(args) -> int:
    from reidlib.engine import make_config
    from reidlib.engine.trainer import Trainer

    with tempfile.TemporaryDirectory() as tmp:
        trainers = {}
        for method in args.methods.split(","):
            trainers[method] = Trainer(make_config(method, args.profile, overrides=[
                f"output_dir={tmp}/{method}", "progress=false", *args.overrides]))
            trainers[method]._build()
        for method, f in figures_side_by_side(trainers, args.batch, args.repeats, args.rounds).items():
            cfg = trainers[method].config
            print(f"infer  {method:8s} {cfg.model.backbone:15s} {args.profile:3s} {cfg.data.height}x{cfg.data.width}  "
                  f"params {f['parameters (M)']:7.3f} M (of {f['all parameters (M)']:.3f} M trained)  "
                  f"{f['GFLOPs / image']:7.3f} GFLOPs/image  {f['images / s']:8.1f} images/s  "
                  f"batch {args.batch} on {f['device']} (median of {args.rounds})", flush=True)
    return 0

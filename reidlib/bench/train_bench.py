"""Training images per second per method, backbone and profile, and the share of time spent waiting for data.

Each setting trains ``--steps`` steps (after ``--warmup`` untimed ones)
through :class:`reidlib.engine.Trainer`, with the profile's dataset, input
size, batch, workers and (on CUDA) mixed precision and channels-last. The
data-wait share is the time the loop spends waiting for the next batch over
the whole step time (goal: under 10 %).

Examples::

    python -m reidlib.bench train                                   # the cpu-profile baselines
    python -m reidlib.bench train --profile gpu --methods ide --set data.height=256   # ResNet-50 256x128, AMP
"""

from __future__ import annotations

import itertools
import tempfile
import time

import torch

from reidlib.paths import PROFILES

DEFAULT_SETTINGS = ("ide", "ide:resnet18", "global_local", "mscan_body", "dgd")


def add_arguments(parser) -> None:
    parser.add_argument("--profile", default="cpu", choices=PROFILES)
    parser.add_argument("--methods", default=",".join(DEFAULT_SETTINGS),
                        help="comma-separated METHOD or METHOD:BACKBONE (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=30, help="timed training steps per setting")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")


def measure(config, steps: int, warmup: int) -> dict:
    """Train ``warmup + steps`` steps of ``config``'s first stage; the figures of the last ``steps``.

    Times :meth:`reidlib.engine.Trainer.train_step`, the step every epoch runs, from outside the
    epoch loop; the data wait is the time spent waiting for the loader's next batch.
    """
    from reidlib.engine.optim import build_optimizer
    from reidlib.engine.trainer import Trainer

    trainer = Trainer(config)
    trainer._build()
    stage = trainer.stages[0]
    trainer._set_trainable(stage)
    net = trainer._wrap(stage)
    optimizer = build_optimizer(trainer.model, config.optim, stage.lr)
    scaler = torch.amp.GradScaler("cuda", enabled=trainer.amp_dtype == torch.float16)
    loader = trainer.data.train
    if len(loader) < warmup + steps:
        raise ValueError(f"an epoch has {len(loader)} batches, fewer than --warmup + --steps = {warmup + steps}")
    trainer.train_mode(net)
    tasks = itertools.cycle(stage.alternate) if stage.alternate else itertools.repeat(None)
    batches = iter(loader)
    images, wait, start = 0, 0.0, time.perf_counter()
    for step in range(warmup + steps):
        if step == warmup:  # the warm-up is over: start the clock
            if trainer.cuda:
                torch.cuda.synchronize(trainer.device)
            images, wait, start = 0, 0.0, time.perf_counter()
        tick = time.perf_counter()
        batch = next(batches)
        wait += time.perf_counter() - tick
        trainer.train_step(net, batch, next(tasks), stage, optimizer, scaler)
        images += len(batch["pid"])
    if trainer.cuda:
        torch.cuda.synchronize(trainer.device)
    seconds = time.perf_counter() - start
    return {"steps": steps, "seconds": seconds, "images_per_second": images * trainer.info.world_size / seconds,
            "data_wait_share": wait / seconds, "device": str(trainer.device),
            "amp": str(trainer.amp_dtype).removeprefix("torch.") if trainer.amp_dtype else "no"}


def run(args) -> int:
    from reidlib.engine import make_config

    with tempfile.TemporaryDirectory() as tmp:
        for setting in args.methods.split(","):
            method, _, backbone = setting.partition(":")
            overrides = [f"output_dir={tmp}/{method}", "log_every=0", "progress=false", *args.overrides]
            if backbone:
                overrides.append(f"model.backbone={backbone}")
                if backbone in ("resnet18", "resnet50"):
                    overrides.append("model.width=1.0")
            cfg = make_config(method, args.profile, overrides=overrides)
            s = measure(cfg, args.steps, args.warmup)
            d, m = cfg.data, cfg.model
            print(f"train  {method:13s} {m.backbone:15s} width {m.width:<4} {args.profile:3s} "
                  f"{d.height}x{d.width}  batch {d.batch_size:3d}  workers {d.num_workers}  {s['device']:6s} "
                  f"amp {s['amp']:8s} {s['images_per_second']:8.1f} images/s  "
                  f"data wait {100 * s['data_wait_share']:5.1f} %  step {1000 * s['seconds'] / s['steps']:.0f} ms",
                  flush=True)
    return 0

"""SynthReID generation speed: images per second per preset and worker count.

Each setting generates the preset into a temporary folder (rendering,
JPEG and PNG encoding, and writing every file, as ``generate`` does) and
reports images per second over the whole call, start-up included. The goal
is 500 images/s or more at 128 x 64 on two cores, which makes ``market``
(about 36k images) a matter of a minute. The machine's load average is
printed with each line: other jobs on the same cores slow generation down.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path


def add_arguments(parser) -> None:
    parser.add_argument("--presets", default="tiny,small", help="comma-separated SynthReID presets")
    parser.add_argument("--workers", default="0,2", help="comma-separated worker process counts")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a SynthConfig field for every preset")


def run(args) -> int:
    from reidlib.data.synth import generate
    from reidlib.data.synth.presets import parse_overrides

    overrides = parse_overrides(args.overrides)
    for preset in args.presets.split(","):
        for workers in map(int, args.workers.split(",")):
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                root = generate(Path(tmp) / preset, preset, args.seed, progress=False, workers=workers, **overrides)
                dt = time.perf_counter() - t0
                n = sum(len(os.listdir(root / f)) for f in ("bounding_box_train", "bounding_box_test", "query"))
                load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
                print(f"synth {preset:7s} workers {workers}  {n / dt:7.0f} images/s  ({n} images in {dt:.1f} s, "
                      f"load average {load:.1f})", flush=True)
    return 0

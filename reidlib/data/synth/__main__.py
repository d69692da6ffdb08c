"""Command line: write a SynthReID dataset.

    python -m reidlib.data.synth --preset market --seed 0 --out DIR [--set key=value ...]

Without ``--out`` the dataset goes to the cache (``.cache/synth/``) and its
path is printed; an existing complete copy is reused.
"""

from __future__ import annotations

import argparse
import sys
import time

from .generate import ensure, generate
from .presets import PRESETS, SynthConfig, make_config, parse_overrides


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reidlib.data.synth", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="tiny", choices=sorted(PRESETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="output folder (default: the cache folder of this config)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help=f"override a config field, e.g. bg_share=0.8 or images_per_tracklet=2,6; fields: "
                             f"{', '.join(SynthConfig.__dataclass_fields__)}")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core)")
    parser.add_argument("--overwrite", action="store_true", help="replace a dataset already in --out")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        overrides = parse_overrides(args.overrides)
        make_config(args.preset, **overrides)  # validate before any work
    except ValueError as exc:
        parser.error(str(exc))
    t0 = time.perf_counter()
    if args.out:
        root = generate(args.out, args.preset, args.seed, progress=not args.quiet, workers=args.workers,
                        overwrite=args.overwrite, **overrides)
    else:
        root = ensure(args.preset, args.seed, progress=not args.quiet, workers=args.workers, **overrides)
    print(f"SynthReID {args.preset} (seed {args.seed}) at {root} [{time.perf_counter() - t0:.1f} s]")
    return 0


if __name__ == "__main__":
    sys.exit(main())

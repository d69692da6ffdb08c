"""Train a method: ``python -m reidlib.train --method NAME --profile cpu --dataset synth-small --seed 0``.

Options:
    --method      ide, global_local, mscan_body, dgd, ... (one file per method in reidlib/configs)
    --profile     ci | cpu | gpu (see reidlib.engine.profiles)
    --dataset     synth-tiny | synth-small | synth-market | synth-duke | market1501 | ... (real ones need
                  --set data.data_root=DIR)
    --seed        training seed (several: --seeds 0 1 2, summarised as mean and std)
    --paper       gpu profile: whose hyper-parameters, when several papers share the method
    --config      a YAML file of overrides
    --set k=v     override any key, e.g. --set optim.lr=0.01 --set output_dir=/tmp/run
    --print-config  print the resolved config and stop

Several processes: ``torchrun --nproc_per_node 2 -m reidlib.train ...``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from .engine import make_config, run_seeds, train
from .paths import PROFILES


def _normalise(assignment: str) -> str:
    # `--set data_root=DIR` is common enough to accept without its section.
    key = assignment.split("=", 1)[0]
    return f"data.{assignment}" if key in ("data_root",) else assignment


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reidlib.train", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", required=True)
    parser.add_argument("--profile", default="ci", choices=PROFILES)
    parser.add_argument("--dataset")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--seeds", type=int, nargs="+")
    parser.add_argument("--paper")
    parser.add_argument("--config")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--print-config", action="store_true")
    args = parser.parse_args(argv)
    cfg = make_config(args.method, args.profile, args.dataset, args.seed,
                      [_normalise(a) for a in args.overrides], args.config, args.paper)
    if args.print_config:
        print(cfg.to_yaml(), end="")
        return 0
    if args.seeds:
        out = run_seeds(cfg, args.seeds)
        summary = out["summary"]
        print(json.dumps({k: v for k, v in summary.items()}, indent=2))
        return 0
    results = train(cfg)
    if results is not None and int(os.environ.get("RANK", "0")) == 0:  # one report under torchrun
        keys = ("method", "profile", "dataset", "seed", "rank1", "mAP", "mINP", "epochs", "train_seconds",
                "images_per_second", "data_wait_share")
        print(json.dumps({k: results[k] for k in keys}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Command line: ``python -m reidlib.bench {eval,data,synth,train,infer} [options]``."""

from __future__ import annotations

import argparse
import sys

from . import data_bench, eval_bench, infer_bench, synth_bench, train_bench


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reidlib.bench", description=__doc__)
    sub = parser.add_subparsers(dest="suite", required=True)
    suites = {"eval": eval_bench, "data": data_bench, "synth": synth_bench, "train": train_bench, "infer": infer_bench}
    for name, module in suites.items():
        module.add_arguments(sub.add_parser(name, help=module.__doc__.splitlines()[0]))
    args = parser.parse_args(argv)
    return suites[args.suite].run(args)


if __name__ == "__main__":
    sys.exit(main())

"""Command line: ``python -m reidlib.bench {eval} [options]``."""

from __future__ import annotations

import argparse
import sys

from . import eval_bench


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reidlib.bench", description=__doc__)
    sub = parser.add_subparsers(dest="suite", required=True)
    eval_bench.add_arguments(sub.add_parser("eval", help=eval_bench.__doc__.splitlines()[0]))
    args = parser.parse_args(argv)
    return {"eval": eval_bench.run}[args.suite](args)


if __name__ == "__main__":
    sys.exit(main())

"""Check a dataset folder against its reader and the official counts.

    python -m reidlib.data.inspect --dataset market1501 --root /data/Market-1501-v15.09.15
    python -m reidlib.data.inspect --dataset cuhk03 --root /data/cuhk03 --option subset=detected
    python -m reidlib.data.inspect --dataset cuhk01 --root /data/cuhk01 --verify

Prints identities / images / cameras (/ tracklets) per split with the
official counts in brackets, a warning line per difference, and with
``--verify`` the images PIL cannot decode. A broken layout, an unknown
dataset or option ends the run with a one-line ``error:`` message and exit
status 1 (as do unreadable images under ``--verify``).
"""

from __future__ import annotations

import argparse
import ast
import sys
import warnings
from collections.abc import Sequence

import pandas as pd

from .datasets import DATASETS, load_dataset
from .datasets.common import listing, verify_images
from .records import ReIDDataset


def parse_option(text: str) -> tuple[str, object]:
    """``key=value`` with the value as a Python literal where it is one (``3``, ``True``, ``None``), else text.

    ``true`` / ``false`` are accepted for booleans, as shells users type them.
    """
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"options are key=value, got {text!r}")
    if value.lower() in ("true", "false"):
        return key, value.lower() == "true"
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


def statistics_table(dataset: ReIDDataset) -> str:
    """The statistics as text, each count followed by the official one in brackets (``-`` where none)."""
    stats = dataset.statistics()
    cells = {}
    for split in stats.index:
        expected = dataset.expected.get(split, {})
        cells[split] = {column: f"{int(stats.loc[split, column])} ({expected.get(column, '-')})"
                        for column in stats.columns}
    return pd.DataFrame(cells).T.to_string()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reidlib.data.inspect", description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", required=True, help=f"one of {', '.join(DATASETS)}")
    parser.add_argument("--root", required=True, help="the dataset folder, as distributed")
    parser.add_argument("--option", action="append", default=[], type=parse_option, metavar="KEY=VALUE",
                        help="a reader option, e.g. subset=detected (repeatable)")
    parser.add_argument("--verify", action="store_true", help="also open every image with PIL")
    args = parser.parse_args(argv)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            dataset = load_dataset(args.dataset, args.root, **dict(args.option))
        except (ValueError, OSError) as error:  # DatasetLayoutError is a ValueError
            print(f"error: {error}", file=sys.stderr)
            return 1
    print(f"{dataset.name} at {dataset.root} (counts, official counts in brackets)")
    print(statistics_table(dataset))
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)

    if args.verify:
        records = dataset.train + dataset.query + dataset.gallery
        failed = verify_images(records)
        if failed:
            print(f"error: {len(failed)} unreadable image{'s' if len(failed) > 1 else ''}: {listing(failed)}",
                  file=sys.stderr)
            return 1
        print(f"all {len({r.path for r in records})} images open")
    return 0


if __name__ == "__main__":
    sys.exit(main())

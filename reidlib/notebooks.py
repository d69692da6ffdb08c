"""Execute the study's notebooks with papermill.

    python -m reidlib.notebooks --profile ci|cpu|gpu [--only NAME ...] [-p KEY VALUE ...]

Each notebook in ``notebooks/`` runs with ``profile`` and any ``-p``
parameters injected; its executed copy goes to ``book/notebooks/`` where the
book picks it up, and a ``<name>.run.json`` with the run's provenance (git
commit, versions, device, wall time, parameters) goes beside its results in
``results/<profile>/``.

``--smoke`` checks a long profile's notebooks end to end in minutes before
the hours are spent: every run keeps its method and code path but trains one
epoch on small images (:func:`reidlib.engine.profiles.smoke_settings`), in
``runs/smoke/``; the executed notebooks and their results go to a temporary
folder, never to the book or ``results/``.

``--partial`` runs a long study's notebooks on the runs finished so far,
training nothing: every score a chapter computes from a finished run (test
variants, attention, distances) is then in the run's record under
``results/<profile>/runs/`` (:mod:`reidlib.engine.records`), which is
committed, so a study spread over several sittings loses none of it when the
run folders go. Cells that need runs not yet trained fail and the rest go
on; the executed notebooks and their partial results go to a temporary
folder, never to the book or ``results/<profile>/<name>.json``.

``--helper`` puts a second process to work beside a normal execution of
the same notebooks, to use two cores (``OMP_NUM_THREADS=1`` each) or two
GPUs: a run one process is training is passed over by the other
(:func:`reidlib.engine.seeds.train_unclaimed`), so the two share out each
cell's runs. The helper does not wait for the main process's runs: it goes
on to the next cell's (:func:`reidlib.engine.seeds.helper_mode`), and its
cells that need the runs it left out fail and are gone past. The helper's
executed notebooks and results go to a temporary folder; the main process
writes the book's.

``--store-outputs`` instead re-executes the notebooks in ``notebooks/`` in
place with their default (``ci``) parameters, refreshing the outputs that
the nbval regression test compares against.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml
from tqdm import tqdm

from .paths import EXECUTED_DIR, NOTEBOOKS_DIR, PROFILES, REPO_ROOT, results_dir
from .results import output_folder
from .runinfo import run_metadata

KERNEL = "python3"
# Notebooks that read the other chapters' results run after them (in this order).
READS_OTHERS = ("comparison", "summary")


def find_notebooks(only: list[str] | None = None) -> list[Path]:
    """The notebooks in ``notebooks/`` (by name, without ``.ipynb``): name order, then :data:`READS_OTHERS`."""
    available = {p.stem: p for p in sorted(NOTEBOOKS_DIR.glob("*.ipynb"), key=lambda p: (
        p.stem in READS_OTHERS, READS_OTHERS.index(p.stem) if p.stem in READS_OTHERS else 0, p.stem))}
    if not only:
        return list(available.values())
    unknown = [n for n in only if n.removesuffix(".ipynb") not in available]
    if unknown:
        raise SystemExit(f"unknown notebook(s) {unknown}; available: {sorted(available)}")
    return [available[n.removesuffix(".ipynb")] for n in only]


def parse_parameters(pairs: list[list[str]] | None) -> dict:
    """``-p key value`` pairs; values are read as YAML (numbers, lists, booleans, strings)."""
    return {key: yaml.safe_load(value) for key, value in (pairs or [])}


def execute(notebook: Path, profile: str, parameters: dict, output_dir: Path = EXECUTED_DIR,
            allow_errors: bool = False) -> dict:
    """Run one notebook with papermill and record its provenance; returns the record.

    ``allow_errors``: go on past failing cells (a partial or helper run); the record's
    ``failed_cells`` counts them.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    output_dir.mkdir(parents=True, exist_ok=True)
    # The executed copy keeps every refresh of the training bars: at tqdm's default of one
    # per 0.1 s, a cpu study fills it with megabytes of them. The kernel inherits this.
    os.environ.setdefault("TQDM_MININTERVAL", "30")
    params = {"profile": profile, **parameters}
    start = time.perf_counter()
    # papermill saves as it goes: write beside the book and move into place only when the run
    # succeeds, so that a failed or cut-off run never leaves half a chapter for the book.
    # (named by profile and process, so that two runs of one notebook at once do not share it)
    partial = REPO_ROOT / ".cache" / "partial" / f"{profile}-{os.getpid()}-{notebook.name}"
    partial.parent.mkdir(parents=True, exist_ok=True)
    failed = 0
    try:
        papermill.execute_notebook(
            str(notebook), str(partial), parameters=params,
            kernel_name=KERNEL, cwd=str(notebook.parent), progress_bar=True, allow_errors=allow_errors,
        )
    except PapermillExecutionError:
        if not allow_errors:
            raise
    if allow_errors:
        import nbformat

        failed = sum(any(o.get("output_type") == "error" for o in c.get("outputs", []))
                     for c in nbformat.read(partial, as_version=4).cells if c.cell_type == "code")
    shutil.move(partial, output_dir / notebook.name)
    record = run_metadata(notebook=notebook.stem, profile=profile, parameters=params,
                          wall_time_s=round(time.perf_counter() - start, 2),
                          **({"failed_cells": failed} if allow_errors else {}))
    folder = output_folder(profile, parameters.get("output_dir"))  # beside the notebook's results
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{notebook.stem}.run.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def store_outputs(notebook: Path) -> None:
    """Re-execute a source notebook in place with its default parameters (for nbval)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(nb, kernel_name=KERNEL, resources={"metadata": {"path": str(notebook.parent)}}).execute()
    for cell in nb.cells:
        cell.get("metadata", {}).pop("execution", None)  # timestamps would churn the diff
    nbformat.write(nb, notebook)


def status(profile: str, notebooks: list[Path], runs_root: Path | None = None) -> str:
    """What a long study has done so far: each notebook's saved results and the state of every run."""
    from .engine.runlock import run_state
    from .engine.trainer import RUNS_DIR

    runs_root = Path(runs_root or RUNS_DIR)
    lines = [f"notebooks ({profile}):"]
    for nb in notebooks:
        run_file = results_dir(profile) / f"{nb.stem}.run.json"
        if run_file.exists():
            state = "results saved " + json.loads(run_file.read_text()).get("finished_at", "?")
        elif (results_dir(profile) / f"{nb.stem}.json").exists():  # saved by a run that kept no provenance
            state = "results saved (no .run.json: when and where unknown)"
        else:
            state = "no results yet"
        lines.append(f"  {nb.stem:<12} {state}")
    lines.append(f"training runs ({profile}) in {runs_root}:")
    for method_dir in sorted(p for p in runs_root.glob("*") if p.is_dir()):
        states = [run_state(run) for run in sorted(method_dir.glob(f"{profile}-*"))]
        if states:
            counts = ", ".join(f"{states.count(s)} {s}" for s in ("finished", "training", "cut off", "empty") if s in states)
            lines.append(f"  {method_dir.name:<12} {counts}")
    records = results_dir(profile) / "runs"
    lines.append(f"run records ({profile}) in {records} (committed; trained in this or earlier sittings):")
    for method_dir in sorted(p for p in records.glob("*") if p.is_dir()):
        kept = len(list(method_dir.glob("*.pt")))
        lines.append(f"  {method_dir.name:<12} {len(list(method_dir.glob('*.json')))} runs"
                     + (f", weights kept for {kept} (pictures)" if kept else ""))
    return "\n".join(lines)


def _scratch(kind: str, profile: str) -> Path:
    """A temporary folder for a run that must not touch the book: its results go there (the kernels inherit it)."""
    scratch = Path(tempfile.mkdtemp(prefix=f"reidlib-{kind}-{profile}-"))
    os.environ["REIDLIB_RESULTS_OUT"] = str(scratch / "results")
    return scratch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reidlib.notebooks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=PROFILES, default="ci")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these notebooks")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("KEY", "VALUE"),
                        help="extra notebook parameter (repeatable)")
    parser.add_argument("--smoke", action="store_true",
                        help="check --profile's code path in minutes: one-epoch runs on small images, in runs/smoke/; "
                             "executed notebooks and results go to a temporary folder")
    parser.add_argument("--partial", action="store_true",
                        help="run on the finished runs only, training nothing, to record every score computed from "
                             "them (results/<profile>/runs/); executed notebooks and results go to a temporary folder")
    parser.add_argument("--helper", action="store_true",
                        help="train beside another execution of the same notebooks, taking the runs it has not "
                             "started; executed notebooks and results go to a temporary folder")
    parser.add_argument("--store-outputs", action="store_true",
                        help="refresh the outputs stored in notebooks/ (ci defaults) instead")
    parser.add_argument("--list", action="store_true", help="list the notebooks and exit")
    parser.add_argument("--status", action="store_true",
                        help="print which notebooks have results at --profile and the state of its training runs")
    args = parser.parse_args(argv)

    notebooks = find_notebooks(args.only)
    if args.list:
        print("\n".join(p.stem for p in notebooks))
        return 0
    if args.status:
        print(status(args.profile, notebooks))
        return 0
    if args.store_outputs:
        for nb in tqdm(notebooks, desc="storing outputs", unit="notebook"):
            store_outputs(nb)
        return 0
    params = parse_parameters(args.parameter)
    executed_dir = EXECUTED_DIR
    if args.smoke:
        from .engine.profiles import SMOKE_ENV

        os.environ[SMOKE_ENV] = "1"  # (the kernels inherit it)
        scratch = _scratch("smoke", args.profile)
        print(f"smoke run of the {args.profile} profile: executed notebooks and results in {scratch}, runs in runs/smoke/")
        executed_dir = scratch / "notebooks"
    if args.partial:
        if args.profile == "ci":
            raise SystemExit("--partial is for the cpu and gpu studies (ci runs take seconds and keep no records)")
        os.environ["REIDLIB_PARTIAL"] = "1"  # (the kernels inherit it)
        scratch = _scratch("partial", args.profile)
        print(f"partial run of the {args.profile} profile on the finished runs: executed notebooks in {scratch}, "
              f"scores recorded in results/{args.profile}/runs/")
        executed_dir = scratch / "notebooks"
    if args.helper:
        if args.profile == "ci" or args.partial:
            raise SystemExit("--helper trains cpu or gpu runs beside a main execution; it goes with neither "
                             "--profile ci nor --partial")
        os.environ["REIDLIB_HELPER"] = "1"  # (the kernels inherit it)
        scratch = _scratch("helper", args.profile)
        print(f"helper run of the {args.profile} profile: executed notebooks and results in {scratch}")
        executed_dir = scratch / "notebooks"
    mode = ", smoke" if args.smoke else ", partial" if args.partial else ", helper" if args.helper else ""
    for nb in tqdm(notebooks, desc=f"notebooks ({args.profile}{mode})", unit="notebook"):
        record = execute(nb, args.profile, params, executed_dir, allow_errors=args.partial or args.helper)
        missing = "runs the main process trains" if args.helper else "runs not trained yet"
        failed = f", {record['failed_cells']} cells failed ({missing})" if record.get("failed_cells") else ""
        tqdm.write(f"{nb.stem}: {record['wall_time_s']} s on {record['device']}{failed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

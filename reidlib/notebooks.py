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

``--verify`` checks that the committed results of a ``cpu`` or ``gpu``
study come from its committed run records: it executes every notebook that
writes a committed ``results/<profile>/*.json`` in partial and verify mode
(:func:`reidlib.engine.records.verify_mode`: nothing is trained, no score
computed, every one read from a record, and this machine's run folders are
hidden, so that it checks what a fresh clone holds), into a temporary folder,
then compares each regenerated results file with the committed one, key by
key (:func:`reidlib.results.compare_results`; the keys measured at run time
are declared in :data:`reidlib.results.VOLATILE`). It prints what differs
and which cells failed, and exits 1 unless every file matches.

``--store-outputs`` instead re-executes the notebooks in ``notebooks/`` in
place with their default (``ci``) parameters, refreshing the outputs that
the nbval regression test compares against.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

from .paths import EXECUTED_DIR, NOTEBOOKS_DIR, PROFILES, REPO_ROOT, results_dir
from .results import VOLATILE, compare_results, key_path, output_folder
from .runinfo import run_metadata

KERNEL = "python3"
PRELUDE_TAG = "reidlib-prelude"  # a cell the runner adds before a notebook's own (execute(prelude=...))
# Tags of Jupyter Book (MyST-NB) that already say how a code cell's source is shown.
SOURCE_TAGS = {"hide-input", "hide-cell", "remove-input", "remove_input", "remove-cell", "remove_cell"}
# Notebooks that read the other chapters' results run after them (in this order).
READS_OTHERS = ("comparison", "summary")


def hide_code(nb) -> None:
    """Tag every code cell ``hide-input`` unless a tag already decides how its source shows.

    The book is read for its prose, tables and figures: code stays one click away (a toggle) and
    every chapter's regenerate command is printed as output, which stays visible. Applied to the
    source notebooks (:func:`store_outputs`) and to every executed copy, papermill's injected
    parameters and the runner's prelude included.
    """
    for cell in nb.cells:
        if cell.cell_type == "code":
            tags = cell.metadata.setdefault("tags", [])
            if not SOURCE_TAGS & set(tags):
                tags.append("hide-input")


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
    """``-p key value`` pairs; values are read as YAML (numbers, lists, booleans, strings), ``1e-3`` as a float."""
    from .engine.config import read_yaml

    return {key: read_yaml(value) for key, value in (pairs or [])}


def execute(notebook: Path, profile: str, parameters: dict, output_dir: Path = EXECUTED_DIR,
            allow_errors: bool = False, prelude: str | None = None) -> dict:
    """Run one notebook with papermill and record its provenance; returns the record.

    ``allow_errors``: go on past failing cells (a partial or helper run); the record's
    ``failed_cells`` counts them. ``prelude``: code run in a first cell added to the
    notebook (tagged ``reidlib-prelude``; the source notebook is not changed).
    """
    import nbformat
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
    source = str(notebook)
    if prelude:
        source = nbformat.read(notebook, as_version=4)
        source.cells.insert(0, nbformat.v4.new_code_cell(prelude, metadata={"tags": [PRELUDE_TAG]}))
    try:
        papermill.execute_notebook(
            source, str(partial), parameters=params,
            kernel_name=KERNEL, cwd=str(notebook.parent), progress_bar=True, allow_errors=allow_errors,
        )
    except PapermillExecutionError:
        if not allow_errors:
            raise
    executed = nbformat.read(partial, as_version=4)
    if allow_errors:
        failed = sum(any(o.get("output_type") == "error" for o in c.get("outputs", []))
                     for c in executed.cells if c.cell_type == "code")
    hide_code(executed)
    nbformat.write(executed, partial)
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
    hide_code(nb)
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


def results_written(notebook: Path) -> list[str]:
    """The results files a notebook saves (names without ``.json``): its ``save_results("NAME", ...)`` calls."""
    cells = json.loads(Path(notebook).read_text())["cells"]
    code = "\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                     for c in cells if c["cell_type"] == "code")
    return sorted(set(re.findall(r"""save_results\(\s*["']([^"']+)["']""", code)))


def failed_cells(executed: Path) -> list[dict]:
    """The cells of an executed notebook that raised: ``{"cell", "source", "error"}`` (index in the source notebook).

    ``source`` is the cell's first line, ``error`` the exception's first line; the
    cells papermill and the runner add are not counted in the index.
    """
    import nbformat

    out, index = [], -1
    for cell in nbformat.read(executed, as_version=4).cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "papermill-error-cell-tag" in tags:  # papermill's note at the top, linking to the first failed cell
            continue
        if PRELUDE_TAG in tags or "injected-parameters" in tags:
            index_of = PRELUDE_TAG if PRELUDE_TAG in tags else "parameters (injected)"
        else:
            index += 1
            index_of = index
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                evalue = (output.get("evalue") or "").strip().splitlines()
                first = next((line for line in cell.source.splitlines() if line.strip()), "")
                out.append({"cell": index_of, "source": first,
                            "error": f"{output.get('ename')}: {evalue[0] if evalue else ''}".rstrip(": ")})
                break
    return out


def cell_times(executed: Path) -> list[tuple[float, object, str]]:
    """``(seconds, cell, first line)`` of each code cell of an executed notebook (papermill's timings), in order."""
    import nbformat

    out, index = [], -1
    for cell in nbformat.read(executed, as_version=4).cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "papermill-error-cell-tag" in tags:
            continue
        added = PRELUDE_TAG in tags or "injected-parameters" in tags
        index += 0 if added else 1
        if cell.cell_type == "code":
            seconds = cell.get("metadata", {}).get("papermill", {}).get("duration") or 0.0
            first = next((line for line in cell.source.splitlines() if line.strip()), "")
            out.append((float(seconds), "prelude" if added else index, first))
    return out


def missing_records(executed: Path) -> list[str]:
    """The runs (``method/run folder``) an executed verify-mode notebook asked for that have no record, in order."""
    import nbformat

    from .engine.records import NO_RECORD

    found = {}
    for cell in nbformat.read(executed, as_version=4).cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if output.get("output_type") == "stream":
                for line in output.get("text", "").splitlines():
                    if line.startswith(NO_RECORD):
                        found[line[len(NO_RECORD):].strip()] = None
    return list(found)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 4] + " ..."


def _short(value, width: int = 100) -> str:
    """A value of the report (JSON) on one line, cut to ``width`` characters."""
    from .results import MISSING

    if value is MISSING or isinstance(value, str) and value.startswith("a list of "):
        return _cut(str(value), width)
    return _cut(json.dumps(value, default=repr), width)


def _children_cpu() -> float:
    """CPU seconds of this process's finished children (the kernels, with their data-loader workers)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def verify(profile: str, only: list[str] | None = None, max_lines: int = 25) -> int:
    """``--verify``: regenerate the committed results of ``profile`` from the run records alone and compare.

    Returns the exit status (0: every file matches) after printing the report.
    """
    committed_dir = results_dir(profile)
    committed = sorted(p.stem for p in committed_dir.glob("*.json") if not p.name.endswith(".run.json"))
    notebooks = find_notebooks(only)
    writes = {nb.stem: results_written(nb) for nb in find_notebooks()}
    if only:
        chosen = notebooks
        expected = sorted({name for nb in chosen for name in writes[nb.stem] if name in committed})
    else:
        chosen = [nb for nb in notebooks if set(writes[nb.stem]) & set(committed)]
        expected = committed
    scratch = _scratch("verify", profile)
    os.environ["REIDLIB_PARTIAL"] = "1"  # unfinished runs left out, nothing trained (the kernels inherit both)
    os.environ["REIDLIB_VERIFY"] = "1"  # every score read from a record, none computed
    prelude = ("# Added by `python -m reidlib.notebooks --verify`: read run records only; this machine's run\n"
               "# folders are hidden (an empty folder stands for runs/) and training is refused.\n"
               "from reidlib.engine.records import read_records_only\n"
               f"read_records_only({str(scratch / 'runs')!r})")
    print(f"verify the committed {profile} results ({len(expected)} files) from the run records in "
          f"results/{profile}/runs/: {len(chosen)} notebooks, executed in {scratch}")
    executed_dir, regenerated_dir = scratch / "notebooks", output_folder(profile)
    timings, cpu, failures, unrecorded, slow, start = {}, {}, {}, {}, [], time.perf_counter()
    for nb in chosen:
        run_file = committed_dir / f"{nb.stem}.run.json"
        recorded = json.loads(run_file.read_text()).get("parameters", {}) if run_file.exists() else {}
        params = {k: v for k, v in recorded.items() if k not in ("profile", "output_dir")}  # as committed
        t0, c0 = time.perf_counter(), _children_cpu()
        unrecorded[nb.stem] = []
        try:
            execute(nb, profile, params, executed_dir, allow_errors=True, prelude=prelude)
            failures[nb.stem] = failed_cells(executed_dir / nb.name)
            unrecorded[nb.stem] = missing_records(executed_dir / nb.name)
            slow += [(t, nb.stem, cell, line) for t, cell, line in cell_times(executed_dir / nb.name)]
        except Exception as err:  # noqa: BLE001 -- the kernel died, a timeout: the notebook did not finish
            first = (str(err).strip().splitlines() or [""])[0]
            failures[nb.stem] = [{"cell": "?", "source": "(execution stopped)", "error": f"{type(err).__name__}: {first}"}]
        timings[nb.stem] = time.perf_counter() - t0
        cpu[nb.stem] = _children_cpu() - c0
        state = f", {len(failures[nb.stem])} cells failed" if failures[nb.stem] else ""
        tqdm.write(f"{nb.stem}: {timings[nb.stem]:.0f} s ({cpu[nb.stem]:.0f} s CPU){state}")
    total = time.perf_counter() - start

    print(f"\n=== verify {profile}: committed results against the results regenerated from run records ===")
    print("\nnotebooks:")
    for nb in chosen:
        cells = failures[nb.stem]
        print(f"  {nb.stem:<12} {timings[nb.stem]:6.0f} s ({cpu[nb.stem]:5.0f} s CPU)  writes {', '.join(writes[nb.stem])}; "
              + (f"{len(cells)} cells failed" if cells else "every cell ran"))
        for c in cells:
            print(f"      cell {c['cell']} ({_cut(c['source'], 60)}): {_cut(c['error'], 400)}")
        if unrecorded[nb.stem]:  # left out by partial mode, or the reason a cell failed
            by_method = {}
            for run in unrecorded[nb.stem]:
                by_method.setdefault(run.split("/")[0], []).append(run.split("/", 1)[1])
            print(f"      {len(unrecorded[nb.stem])} runs asked for have no record in results/{profile}/runs/:")
            for method, names in by_method.items():
                print(f"        {method} ({len(names)}): {', '.join(names)}")
    print(f"  total        {total:6.0f} s ({sum(cpu.values()):5.0f} s CPU: the kernels and their workers)")
    slowest = sorted(slow, key=lambda x: -x[0])[:8]
    if slowest:
        print("  slowest cells:")
        for seconds, name, cell, line in slowest:
            print(f"    {seconds:6.0f} s  {name} cell {cell} ({_cut(line, 70)})")

    bad = 0
    print("\nresults files:")
    regenerated = sorted(p.stem for p in regenerated_dir.glob("*.json") if not p.name.endswith(".run.json"))
    for name in sorted(set(expected) | set(regenerated)):
        by = [nb for nb in chosen if name in writes[nb.stem]]
        label = f"{name}.json" + (f" ({', '.join(nb.stem for nb in by)})" if by else "")
        if name not in committed:
            bad += 1
            print(f"  {label}: regenerated, but not committed")
            continue
        if not by:
            bad += 1
            print(f"  {label}: committed, but no notebook writes it (no save_results({name!r}, ...) in notebooks/)")
            continue
        if name not in regenerated:
            bad += 1
            cells = [c for nb in by for c in failures[nb.stem]]
            why = (f"first failed cell: {by[0].stem} cell {cells[0]['cell']}: {_cut(cells[0]['error'], 300)}"
                   if cells else "its notebook ran without error but did not save it")
            print(f"  {label}: NOT REGENERATED ({why})")
            continue
        old = json.loads((committed_dir / f"{name}.json").read_text())
        new = json.loads((regenerated_dir / f"{name}.json").read_text())
        ignore = VOLATILE.get(name, ())
        diffs = compare_results(old, new, ignore)
        skipped = f" ({len(ignore)} volatile key paths not compared)" if ignore else ""
        if not diffs:
            print(f"  {label}: matches{skipped}")
            continue
        bad += 1
        print(f"  {label}: {len(diffs)} differences{skipped}")
        for path, a, b in diffs[:max_lines]:
            print(f"      {key_path(path)}: committed {_short(a)}, regenerated {_short(b)}")
        if len(diffs) > max_lines:
            print(f"      ... and {len(diffs) - max_lines} more")
    broken = [nb.stem for nb in chosen if failures[nb.stem]]
    files = len(set(expected) | set(regenerated))
    print(f"\n{'OK' if not bad and not broken else 'FAILED'}: {files - bad} of {files} results files match"
          + (f"; cells failed in {', '.join(broken)}" if broken else "")
          + f" ({total:.0f} s; executed notebooks and regenerated results in {scratch})")
    return 1 if bad or broken else 0


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
    parser.add_argument("--verify", action="store_true",
                        help="check that the committed results of --profile cpu or gpu regenerate from the committed "
                             "run records alone (nothing trained, no score computed); prints what differs, exits 1 "
                             "unless all match")
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
    if args.verify:
        if args.profile == "ci":
            raise SystemExit("--verify checks the cpu and gpu studies' results against their run records; "
                             "the ci results are checked by nbval (make nbval)")
        if args.smoke or args.partial or args.helper or args.parameter:
            raise SystemExit("--verify goes with none of --smoke, --partial, --helper, -p (it executes the notebooks "
                             "with the parameters their committed <name>.run.json records)")
        return verify(args.profile, args.only)
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

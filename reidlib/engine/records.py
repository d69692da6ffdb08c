"""Run records: what a finished study run leaves in the repository.

A ``cpu`` study trains for longer than one sitting on two cores lasts, and
the run folders (``runs/``, ignored by git) do not outlive the machine they
were trained on. So every finished run at the ``cpu`` and ``gpu`` profiles
also keeps a small JSON *record*, committed with the results::

    results/<profile>/runs/<method>/<run folder>.json

It holds the run's results (metrics, history, config) and every score
computed from the trained model since: :func:`evaluate_run` (the run tested
again under other test settings), :func:`attention_run_scores` and
:func:`distance_run_scores`. A later session that finds a record but not the
run folder reuses the record instead of training again, and reads the scores
from it; a score that was never computed needs the trained weights, and
asking for it then says so.

Pictures need the weights themselves: :func:`load_for_pictures` loads a run
like :func:`reidlib.engine.trainer.load_run` and keeps its model's weights
beside the record (``<run folder>.pt``, no optimiser state), so the few runs
a chapter draws from can be drawn again. ``load_run`` falls back to them
when the run folder is gone.

Only runs in their default folder (``runs/<method>/<profile>-...``) have
records; ``ci`` and smoke runs, which take seconds, never do.

Verify mode (``$REIDLIB_VERIFY=1``, ``python -m reidlib.notebooks --verify``)
checks that the committed results come from the committed records: nothing
is trained and no score is computed, every one is read from a record (a score
missing from it is a :class:`MissingRunError`), whatever run folders or
weights this machine has, so that the check on a developer's machine is the
check on a fresh clone. See :func:`verify_mode` and :func:`read_records_only`.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sys
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from ..paths import REPO_ROOT, results_dir

FORMAT = "reidlib-run-record/1"
RECORDED_PROFILES = ("cpu", "market", "gpu")
# Printed (to stderr) in verify mode for each run asked for that has no record: such a run is left
# out (partial mode) or fails its cell.
NO_RECORD = "verify: no record of the run"
# Roots of machine-specific paths, written as these names in score keys, so that a
# record made in one clone is found in another.
_PATH_ROOTS = {"<repo>": REPO_ROOT}


class MissingRunError(FileNotFoundError):
    """A score was asked of a run whose trained weights are not on this machine (or, in verify mode, of any run)."""


# Set while load_for_pictures loads a run: in verify mode kept weights may then be loaded, to draw.
_drawing: ContextVar[bool] = ContextVar("reidlib_records_drawing", default=False)


def _shared_root() -> Path:
    from ..paths import shared_data

    return shared_data()


def record_path(method: str, profile: str, output_dir: str | os.PathLike) -> Path | None:
    """Where the record of the run trained into ``output_dir`` lives, or None for runs without records."""
    out = Path(output_dir)
    if (profile not in RECORDED_PROFILES or out.parent.name != method or out.parent.parent.name != "runs"
            or not out.name.startswith(f"{profile}-")):
        return None
    return results_dir(profile) / "runs" / method / f"{out.name}.json"


def _path_of(run: dict) -> Path | None:
    return record_path(run["method"], run["profile"], run["output_dir"])


def weights_path(record: Path) -> Path:
    return record.with_suffix(".pt")


def portable_paths(value):
    """``value`` with this clone's absolute paths written relative to named roots (for keys and records)."""
    if isinstance(value, dict):
        return {k: portable_paths(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [portable_paths(v) for v in value]
    if isinstance(value, (str, Path)) and os.path.isabs(str(value)):
        roots = {**_PATH_ROOTS, "<shared>": _shared_root()}
        for name, root in sorted(roots.items(), key=lambda kv: -len(str(kv[1]))):
            try:
                return f"{name}/{Path(value).resolve().relative_to(Path(root).resolve()).as_posix()}"
            except ValueError:
                continue
    return value


def local_paths(value):
    """Inverse of :func:`portable_paths`: named roots back to this clone's absolute paths."""
    if isinstance(value, dict):
        return {k: local_paths(v) for k, v in value.items()}
    if isinstance(value, list):
        return [local_paths(v) for v in value]
    if isinstance(value, str):
        for name, root in {**_PATH_ROOTS, "<shared>": _shared_root()}.items():
            if value == name or value.startswith(f"{name}/"):
                return str(Path(root) / value[len(name) + 1:])
    return value


# The version of the random-background test set, in the key of every score tested on it. v1 (no
# version in the key) seeded a background by the image's index, so query i and gallery i shared one,
# drawn from the pool training augments with; v2 seeds by split and path and draws from the pool's
# held-out part (reidlib.data.transforms). The settings are the same, the test set is not: v1 scores
# must not be reused.
RANDOM_BACKGROUND_TEST = "v2"


def score_key(kind: str, overrides: list[str] | dict | None = None, **params) -> str:
    """A stable text key for one score of a run: its kind, test settings and parameters.

    A score on the random-background test set also names :data:`RANDOM_BACKGROUND_TEST`.
    """
    from .config import flatten, merge, parse_assignment, unflatten

    layer: dict = {}
    if isinstance(overrides, dict):
        layer = unflatten(overrides)
    else:
        for o in overrides or []:
            layer = merge(layer, parse_assignment(o))
    settings = {k: v for k, v in flatten(layer).items() if k not in ("device", "progress", "data.num_workers")}
    if settings.get("data.test_background") == "random_background":
        params = {"random_background_test": RANDOM_BACKGROUND_TEST, **params}
    body = portable_paths({"settings": settings, **params})
    return f"{kind} " + json.dumps(body, sort_keys=True, default=str)


@contextmanager
def _locked(path: Path, key: str = ""):
    """An exclusive lock on a record, so that two processes adding scores never lose one.

    With ``key``, a lock on computing that one score instead: a second process
    asking for it waits, then reads what the first recorded.
    """
    tag = f".{hashlib.sha1(key.encode()).hexdigest()[:12]}" if key else ""
    lock = REPO_ROOT / ".cache" / "locks" / f"{path.parent.name}-{path.name}{tag}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read(path: Path) -> dict:
    record = json.loads(path.read_text())
    if record.get("format") != FORMAT:
        raise ValueError(f"{path} is not a run record ({FORMAT}); remove it or restore it from git")
    return record


def _write(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(record, indent=1, sort_keys=True, default=str) + "\n")
    os.replace(partial, path)


def save_record(results: dict) -> Path | None:
    """Record a finished run's ``results`` (scores already recorded are kept); returns the path or None."""
    path = _path_of(results)
    if path is None:
        return None
    with _locked(path):
        scores = _read(path)["scores"] if path.exists() else {}
        stored = {k: v for k, v in results.items() if k not in ("output_dir", "stand_in")}
        _write(path, {"format": FORMAT, "run": Path(results["output_dir"]).name, "results": portable_paths(stored),
                      "scores": scores})
    return path


def recorded_results(method: str, profile: str, output_dir: str | os.PathLike, fingerprint: str) -> dict | None:
    """The recorded results of the run that belongs in ``output_dir``, or None when there is no record."""
    path = record_path(method, profile, output_dir)
    if path is None or not path.exists():
        if verify_mode():  # the check's report lists these (reidlib.notebooks.missing_records)
            print(f"{NO_RECORD} {method}/{Path(output_dir).name}", file=sys.stderr)
        return None
    record = _read(path)
    if record["results"].get("fingerprint") != fingerprint:
        raise ValueError(f"{path} records a run with other settings (fingerprint "
                         f"{record['results'].get('fingerprint')} where the config has {fingerprint}); "
                         "remove the record to train the run again")
    return {**local_paths(record["results"]), "output_dir": str(output_dir)}  # the folder on this machine


def _memo(run: dict, key: str, compute: Callable[[], dict]) -> dict:
    """``compute()``, or its value recorded under ``key`` in the run's record (recorded when computed)."""
    path = _path_of(run)
    if verify_mode():  # only read: never compute(), even where the run folder is on this machine
        scores = _read(path)["scores"] if path is not None and path.exists() else None
        if scores is not None and key in scores:
            return scores[key]
        where = (f"its record ({portable_paths(path)}) has no score {key!r}" if scores is not None
                 else f"it has no record ({portable_paths(path) if path else 'a run outside runs/<method>/'})")
        raise MissingRunError(f"verify mode: a score of the run {Path(run['output_dir']).name} is not recorded: "
                              f"{where}. The check only reads the committed records and computes nothing; record "
                              f"the score with `reidlib.notebooks --partial` where the run folder is, and commit it")
    if path is None:
        return compute()
    # Two notebooks side by side (reidlib.notebooks --helper) ask for the same scores: one computes, one waits.
    with _locked(path, key):
        if path.exists():
            scores = _read(path)["scores"]
            if key in scores:
                return scores[key]
        try:
            value = compute()
        except MissingRunError as err:
            raise MissingRunError(f"{err}; its record ({path}) has no score {key!r}. Train the run again "
                                  "(remove the record) or compute the score where the run folder is") from None
        if not path.exists():  # a run finished by an older version of the library
            save_record(run)
        with _locked(path):
            record = _read(path)
            record["scores"][key] = value
            _write(path, record)
    return value


def _load(run: dict, overrides=None, device: str = "auto"):
    from .trainer import load_run

    return load_run(run["output_dir"], overrides, device=device)


def evaluate_run(run: dict, overrides: list[str] | dict | None = None, device: str = "auto") -> dict:
    """The metrics of a trained ``run`` (a results dict) tested under ``overrides`` (test-time settings only).

    Same as ``load_run(run["output_dir"], overrides).evaluate()``, recorded in the run's record.
    """
    return _memo(run, score_key("evaluate", overrides), lambda: _load(run, overrides, device).evaluate())


def attention_run_scores(run: dict, key: str, mask_root: str | None = None, overrides=None,
                         device: str = "auto") -> dict:
    """IoU, inside, outside and contrast of the run's attention map ``key`` on its query images.

    :func:`reidlib.eval.attention.attention_scores` on the trained model,
    against the masks of its dataset (or ``mask_root``); recorded.
    """
    from ..data import MaskSource
    from ..eval.attention import attention_scores

    def compute():
        t = _load(run, overrides, device)
        return attention_scores(t.model, t.data.query, t.data.dataset.query, MaskSource(t.data.dataset.root, mask_root),
                                key, device=t.device)

    return _memo(run, score_key("attention", overrides, key=key, mask_root=mask_root), compute)


def distance_run_scores(run: dict, device: str = "auto") -> dict:
    """:func:`reidlib.engine.distances.distance_scores` of the trained run (Euclidean, KISSME, XQDA, re-ranking); recorded."""
    from .distances import distance_scores

    return _memo(run, score_key("distances"), lambda: distance_scores(_load(run, None, device)))


def load_for_pictures(run: dict, overrides: list[str] | dict | None = None, device: str = "auto"):
    """``load_run`` for drawing a run's pictures: also keeps its weights beside its record (cpu / gpu).

    A partial study's stand-in for a chapter's first seed (see
    :func:`reidlib.engine.run_seeds`) draws but keeps nothing: the weights kept
    are those of the run the finished chapter draws from.
    """
    token = _drawing.set(True)
    try:
        trainer = _load(run, overrides, device)
    finally:
        _drawing.reset(token)
    path = _path_of(run)
    if path is not None and not run.get("stand_in") and not weights_path(path).exists() and not verify_mode():
        from .checkpoint import model_signature, save_checkpoint

        if not path.exists():
            save_record(run)
        model = trainer.model.module if hasattr(trainer.model, "module") else trainer.model
        save_checkpoint(weights_path(path), {
            "method": trainer.config.method, "fingerprint": run["fingerprint"], "config": run["config"],
            "model_signature": model_signature(model), "model": model.state_dict(), "finished": True})
    return trainer


def kept_weights(output_dir: str | os.PathLike) -> Path | None:
    """The weights :func:`load_for_pictures` kept for the run of ``output_dir``, if any.

    The method and profile are read off the default folder's name
    (``runs/<method>/<profile>-...``); other folders have no records.
    """
    out = Path(output_dir)
    path = record_path(out.parent.name, out.name.split("-")[0], out)
    kept = weights_path(path) if path is not None and weights_path(path).exists() else None
    if kept is not None and verify_mode() and not _drawing.get():
        raise MissingRunError(f"verify mode: {out.name} would be loaded from its kept weights ({portable_paths(kept)}) "
                              "to compute something no record holds; the check only reads records (kept weights "
                              "are for drawing, through load_for_pictures)")
    return kept


def partial_mode() -> bool:
    """Whether notebooks run on the finished runs only (``$REIDLIB_PARTIAL=1``; see ``reidlib.notebooks --partial``)."""
    return os.environ.get("REIDLIB_PARTIAL") == "1"


def verify_mode() -> bool:
    """Whether notebooks only read run records (``$REIDLIB_VERIFY=1``; see ``reidlib.notebooks --verify``).

    Goes with partial mode (unfinished runs are left out). Then no score is
    computed (:func:`_memo` raises :class:`MissingRunError` for one its record
    lacks, even where the run folder is here), kept weights load only to draw
    (:func:`load_for_pictures`, which keeps none) and nothing is written to the
    records; :func:`read_records_only` hides this machine's run folders from
    the kernel and refuses to train.
    """
    return os.environ.get("REIDLIB_VERIFY") == "1"


def read_records_only(runs_dir: str | os.PathLike) -> None:
    """In a notebook's kernel, for verify mode: look for run folders in ``runs_dir`` (empty) and train nothing.

    The runner (``reidlib.notebooks --verify``) calls this in a first cell it
    adds, so that the run folders of this machine (``runs/``) are not seen:
    every run is its record, or left out, as on a fresh clone. A run that
    would train (a notebook calling ``train`` for a run that has no record)
    raises :class:`MissingRunError` instead.
    """
    from . import trainer

    trainer.RUNS_DIR = Path(runs_dir)
    if getattr(trainer.Trainer._fit, "records_only", False):
        return
    fit = trainer.Trainer._fit

    def _fit(self):
        cfg = self.config
        if recorded_results(cfg.method, cfg.profile, self.out, cfg.fingerprint()) is None:
            raise MissingRunError(f"verify mode trains nothing: the run {self.out.name} ({cfg.method}) has no record "
                                  f"({portable_paths(record_path(cfg.method, cfg.profile, self.out)) or 'not a recorded profile'}"
                                  "); train it and commit its record")
        return fit(self)

    _fit.records_only = True
    trainer.Trainer._fit = _fit

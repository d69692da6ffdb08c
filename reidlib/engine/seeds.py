"""One config over several seeds: mean and standard deviation of its metrics."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

from .config import TrainConfig

METRICS = ("rank1", "rank5", "rank10", "mAP", "mINP")


def summarize_seeds(results: list[dict], metrics: tuple[str, ...] = METRICS) -> dict:
    """``{metric: {"mean", "std", "values"}}`` over runs (sample std, ddof=1; 0 for one run)."""
    if not results:
        raise ValueError("no runs to summarise")
    out = {}
    for m in metrics:
        values = [r[m] for r in results if m in r]
        if len(values) != len(results):
            continue
        arr = np.asarray(values, dtype=float)
        out[m] = {"mean": float(arr.mean()), "std": float(arr.std(ddof=1)) if len(arr) > 1 else 0.0,
                  "values": [float(v) for v in arr]}
    out["seeds"] = [r["seed"] for r in results]
    return out


def seed_config(config: TrainConfig, seed: int, output_root: str | Path | None = None) -> TrainConfig:
    """``config`` for one seed, with the run folder :func:`run_seeds` gives it."""
    from .trainer import default_output_dir

    cfg = dataclasses.replace(config, seed=seed)
    if output_root is not None:
        return dataclasses.replace(cfg, output_dir=str(Path(output_root) / f"s{seed}"))
    if config.output_dir is None:
        return dataclasses.replace(cfg, output_dir=str(default_output_dir(cfg)))
    return dataclasses.replace(cfg, output_dir=str(Path(config.output_dir) / f"s{seed}"))


def helper_mode() -> bool:
    """Whether this process helps a main execution (``$REIDLIB_HELPER=1``; see ``reidlib.notebooks --helper``).

    A helper trains the runs no one holds and then goes on to the next
    cell's runs instead of waiting for those the main process is training:
    waiting would leave its core idle at every cell boundary, and the main
    process collects those runs itself.
    """
    return os.environ.get("REIDLIB_HELPER") == "1"


def _finished(cfg: TrainConfig) -> bool:
    """Whether the run of ``cfg`` (a :func:`seed_config`) has results here or a record from an earlier sitting."""
    from .records import recorded_results

    return (Path(cfg.output_dir) / "results.json").exists() or recorded_results(
        cfg.method, cfg.profile, cfg.output_dir, cfg.fingerprint()) is not None


def train_unclaimed(configs: list[TrainConfig], seeds: list[int], output_root: str | Path | None = None) -> None:
    """Train, in order, every run of ``configs`` x ``seeds`` that is neither finished nor being trained.

    A run another process is training (its ``train.lock`` is held: two
    notebooks executed side by side, see ``reidlib.notebooks --helper``) is
    passed over rather than waited for, so the two processes share out the
    runs between them; the callers then collect every run, waiting only for
    those still in the other's hands. A run is claimed by taking its lock
    (:func:`~reidlib.engine.runlock.claim`), so two processes arriving at it
    together never both train it. Alone, a process trains them all in order,
    as it would without this pass; so do the ranks of one ``torchrun`` job,
    which train each run together. Partial mode trains nothing.
    """
    from .distributed import env_world_size
    from .records import partial_mode
    from .runlock import claim
    from .trainer import train

    if partial_mode():
        return
    together = env_world_size() > 1  # torchrun: every rank trains every run, in step
    for config in configs:
        for seed in seeds:
            cfg = seed_config(config, seed, output_root)
            if _finished(cfg):
                continue
            if together:
                train(cfg)
                continue
            with claim(cfg.output_dir) as mine:  # taking the lock is the check: no two processes start one run
                if mine:
                    train(cfg)


def run_seeds(config: TrainConfig, seeds: list[int], output_root: str | Path | None = None) -> dict:
    """Train ``config`` once per seed (each in ``<output_root>/s<seed>``; finished runs are reused).

    Returns ``{"runs": [results...], "summary": summarize_seeds(...)}``. Seeds
    another process is training are left to it until the others are done
    (:func:`train_unclaimed`), then waited for; a helper (:func:`helper_mode`)
    leaves them out instead, like the unfinished seeds of partial mode. In partial mode
    (:func:`reidlib.engine.records.partial_mode`) nothing is trained: only
    the finished seeds are returned, and the summary is empty when there are
    none; when the first seed is among the unfinished ones, the returned runs
    carry ``"stand_in": True`` (a chapter draws its pictures from its first
    seed's run, and these are not it).
    """
    from .records import partial_mode
    from .runlock import run_state
    from .trainer import train

    train_unclaimed([config], seeds, output_root)
    runs, first_missing = [], False
    for seed in seeds:
        cfg = seed_config(config, seed, output_root)
        left_out = (partial_mode() and not _finished(cfg)
                    or helper_mode() and run_state(cfg.output_dir) == "training")  # (another process's run)
        if left_out:
            first_missing = first_missing or seed == seeds[0]
            continue
        res = train(cfg)
        res.setdefault("output_dir", cfg.output_dir)  # where load_run finds it (older results lack it)
        runs.append({**res, "stand_in": True} if first_missing else res)
    return {"runs": runs, "summary": summarize_seeds(runs) if runs else {}}

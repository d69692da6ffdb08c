"""Provenance of a run: code version, library versions, hardware, wall time."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata

from .paths import REPO_ROOT

PACKAGES = ("torch", "torchvision", "numpy", "scipy", "papermill", "reidlib")


# What runs write: a change there says nothing about the code a result came from.
OUTPUTS = ("results",)


def git_commit(root: str | os.PathLike = REPO_ROOT) -> str | None:
    """The checked-out commit, with ``-dirty`` if tracked files have changes (None outside git).

    Changes under :data:`OUTPUTS` do not count: a run rewrites its committed
    results (and run records) before its provenance is written, so counting
    them would mark every re-run dirty.
    """
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                *(f":(exclude){p}" for p in OUTPUTS)], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("-dirty" if dirty else "")


def device_description() -> str:
    """The CUDA device name when one is visible, else the CPU model."""
    import torch

    if torch.cuda.is_available():
        return f"cuda: {torch.cuda.get_device_name(0)}"
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"cpu: {cpu} ({torch.get_num_threads()} threads)"


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def run_metadata(**extra) -> dict:
    """A dict describing where and with what a run happened; ``extra`` is merged in."""
    return {
        "git_commit": git_commit(),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "device": device_description(),
        "platform": platform.platform(),
        "versions": versions(),
        **extra,
    }

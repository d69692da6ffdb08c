"""Where the study keeps things, relative to the repository root."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
BOOK_DIR = REPO_ROOT / "book"
# Executed notebooks land here; book/_toc.yml lists them.
EXECUTED_DIR = BOOK_DIR / "notebooks"
PROFILES = ("ci", "cpu", "market", "gpu")


def results_dir(profile: str, root: str | os.PathLike | None = None) -> Path:
    """``results/<profile>`` (or ``<root>/<profile>``): where a profile's JSON results go."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {PROFILES}")
    base = Path(root) if root is not None else REPO_ROOT / "results"
    return base / profile


def shared_data(name: str = "") -> Path:
    """A dataset in the shared data folder: ``$REID_SHARED_DATA/<name>``, by default ``../shared/data/<name>``.

    The real images are never part of the repository; chapters that use them
    look here and say so when the folder is missing.
    """
    return Path(os.environ.get("REID_SHARED_DATA", REPO_ROOT.parent / "shared" / "data")) / name

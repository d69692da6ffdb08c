"""Checkpoints that know which model and config wrote them.

A checkpoint holds the model, optimiser, scheduler and scaler states, where
the run stood (stage, epoch), its history, the config and its fingerprint,
and the model's signature (parameter names and shapes). Loading one into
another model, or resuming a run whose config differs, fails with a message
that says what differs and what to do; an empty or cut-off file fails with
its path and size (:class:`CheckpointUnreadable`).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from .config import flatten

FORMAT = "reidlib-checkpoint/1"


class CheckpointMismatch(ValueError):
    """A checkpoint written by another model or config."""


class CheckpointUnreadable(ValueError):
    """A checkpoint file that is empty, cut off or otherwise not readable by ``torch.load``."""


def model_signature(model: nn.Module) -> dict[str, list[int]]:
    """Parameter and buffer names with their shapes: what must match to load weights."""
    return {k: list(v.shape) for k, v in model.state_dict().items()}


def save_checkpoint(path: str | os.PathLike, state: dict) -> None:
    """Write ``state`` atomically: a run killed mid-write leaves the previous checkpoint intact.

    The bytes reach the disk (fsync) before the rename, so that a machine that loses power
    right after it cannot leave an empty ``checkpoint.pt`` behind the new name either.
    """
    path = Path(path)
    partial = path.with_name(path.stem + ".partial.pt")
    with open(partial, "wb") as f:
        torch.save({"format": FORMAT, **state}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(partial, path)


def read_checkpoint(path: str | os.PathLike) -> dict:
    """The state saved by :func:`save_checkpoint` at ``path``, on the CPU.

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointUnreadable: the file is empty or cut off (copied or written only in part).
        CheckpointMismatch: a readable file that reidlib did not write.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except PermissionError:
        raise
    except Exception as exc:  # EOFError (empty), RuntimeError (zip cut off), OSError, UnpicklingError (garbage)
        size = path.stat().st_size
        if size == 0:
            what = "is empty (0 bytes)"
        else:
            reason = (str(exc).splitlines() or [""])[0]
            reason = reason if len(reason) <= 100 else reason[:100] + "..."
            what = f"is truncated or corrupt ({size:,} bytes; torch.load: {type(exc).__name__}: {reason})"
        raise CheckpointUnreadable(
            f"checkpoint {path} {what}, most likely cut off while being written or copied. "
            "Restore it from a copy, or delete it to train the run again from its start"
        ) from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointMismatch(f"{path} is not a reidlib checkpoint (written by reidlib.engine); "
                                 "for ImageNet weights use model.pretrained instead")
    return state


def check_model(state: dict, model: nn.Module, method: str, path) -> None:
    """Raise CheckpointMismatch unless ``state`` holds weights of ``model``."""
    theirs, ours = state["model_signature"], model_signature(model)
    if state["method"] != method or theirs != ours:
        missing = sorted(set(ours) - set(theirs))[:3]
        extra = sorted(set(theirs) - set(ours))[:3]
        shapes = sorted(k for k in set(ours) & set(theirs) if ours[k] != theirs[k])[:3]
        raise CheckpointMismatch(
            f"{path} holds a {state['method']!r} model (backbone {state['config']['model']['backbone']}), "
            f"not this {method!r} model: missing {missing}, unexpected {extra}, other shapes {shapes}. "
            "Load it with the config it was trained with, or use another output_dir")


def check_config(state: dict, fingerprint: str, config: dict, path, non_result_keys=()) -> None:
    """Raise CheckpointMismatch when the checkpoint's run had other result-changing settings."""
    if state["fingerprint"] == fingerprint:
        return
    old, new = flatten(state["config"]), flatten(config)
    diffs = [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in sorted(set(old) | set(new))
             if k not in non_result_keys and old.get(k) != new.get(k)]
    raise CheckpointMismatch(
        f"{path} was written by a run with other settings ({'; '.join(diffs[:8]) or 'unknown differences'}). "
        "Resume with the same config, choose another output_dir, or set resume=false to start over")

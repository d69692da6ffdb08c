"""Reading image files, with errors that name the file."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

# The image files the readers, the segmenter and the background pool pick up.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")


def find_images(root: str | os.PathLike, skip: Iterable[str | os.PathLike] = ()) -> list[Path]:
    """Every image file under ``root`` (any depth, by suffix, case-insensitive), sorted.

    Files inside a folder of ``skip`` are left out: a mask tree written beside
    (or inside) the images holds PNGs that are not photographs of people.
    """
    root = Path(root).resolve()
    skip = {Path(s).resolve() for s in skip}
    return sorted(p for p in root.rglob("*")
                  if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file() and skip.isdisjoint(p.parents))


def image_key(path: str | os.PathLike, root: str | os.PathLike | None = None) -> str:
    """``path`` relative to ``root`` (POSIX) when it lies under it, else as given.

    Names an image the same in every clone (the seed of its random test background).
    """
    if root is not None:
        for p, r in ((Path(path), Path(root)), (Path(path).resolve(), Path(root).resolve())):
            try:
                return p.relative_to(r).as_posix()
            except ValueError:
                continue
    return Path(path).as_posix()


class ImageReadError(ValueError):
    """An image file is missing or cannot be decoded."""


def read_image(path: str | os.PathLike) -> torch.Tensor:
    """(3, H, W) uint8 RGB tensor of any image file PIL reads (JPEG, PNG, BMP, ...)."""
    try:
        with Image.open(path) as im:
            return torch.from_numpy(np.array(im.convert("RGB"))).permute(2, 0, 1).contiguous()
    except FileNotFoundError:
        raise ImageReadError(f"missing image {path}") from None
    except (OSError, ValueError, SyntaxError) as exc:
        # OSError covers truncated files and UnidentifiedImageError (unknown
        # formats); malformed headers of some formats surface as ValueError / SyntaxError.
        raise ImageReadError(f"cannot decode image {path}: {exc}") from exc

"""Image and mask transforms, applied together, and the background-influence variants.

A sample is a dict with an ``"image"`` (a ``tv_tensors.Image``) and, when
masks are loaded, a ``"mask"`` (a ``tv_tensors.Mask`` of part labels, see
:mod:`reidlib.data.masks`). torchvision's v2 transforms move both with the
same geometry (masks resize with nearest neighbours); the transforms defined
here use the mask to change the background:

* ``mean_background``: the background filled with the mean pixel value;
* ``background_only``: the person filled with the mean pixel value;
* ``random_background``: the background replaced by a crop of an image from
  a pool of scenes the dataset does not contain, seeded by the image's split
  and path; query and gallery crops come from a part of the pool that
  training never sees (see :class:`BackgroundPool`);
* :class:`RandomBackground`: ``random_background`` with probability ``p``
  (the augmentation of the background-bias paper);
* :class:`ToRGBM`: a fourth input channel holding the binary mask (MGCAM);
* :class:`GaussianWeight`: the image weighted by a centred 2-D Gaussian (FTN's
  reconstruction target).

All of them work on float images in [0, 1], before normalisation.
"""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path

import torch
from torchvision import tv_tensors
from torchvision.ops import roi_align
from torchvision.transforms import v2

from .images import find_images, image_key, read_image

# ImageNet statistics: the normalisation every torchvision backbone expects.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# The background-influence variants of the background-bias paper, and MGCAM's mask-only input.
BACKGROUND_VARIANTS = ("original", "mean_background", "background_only", "random_background")
IMAGE_VARIANTS = BACKGROUND_VARIANTS + ("mask_only",)
# The split whose random backgrounds come from the pool's training part; every other split's are held out.
TRAIN_SPLIT = "train"


def _fill(mean, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(mean, dtype=like.dtype, device=like.device).view(-1, 1, 1)


def mean_background(image: torch.Tensor, foreground: torch.Tensor, mean=IMAGENET_MEAN) -> torch.Tensor:
    """(3, H, W) image with every background pixel set to ``mean``."""
    return torch.where(foreground.bool(), image, _fill(mean, image))


def background_only(image: torch.Tensor, foreground: torch.Tensor, mean=IMAGENET_MEAN) -> torch.Tensor:
    """(3, H, W) image with every person pixel set to ``mean``: only the background is left."""
    return torch.where(foreground.bool(), _fill(mean, image), image)


def mask_only(image: torch.Tensor, foreground: torch.Tensor, mean=IMAGENET_MEAN) -> torch.Tensor:
    """(3, H, W) image of the mask alone: white person on a black background (MGCAM's "Mask" input)."""
    return foreground.to(image.dtype).expand_as(image).clone()


def random_background(image: torch.Tensor, foreground: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    """(3, H, W) image with its background taken from ``background`` (same size)."""
    if background.shape != image.shape:
        raise ValueError(f"background is {tuple(background.shape)} but the image is {tuple(image.shape)}")
    return torch.where(foreground.bool(), image, background)


class BackgroundPool:
    """Scene images (without people of the dataset) to paste behind people, split into two parts.

    Args:
        images: image files (or decoded uint8 tensors), or a folder whose images are all used.

    The pool is split once, deterministically, into a training part and a
    held-out test part (:attr:`parts`, pool indices): training augmentation
    draws from ``"train"``, the random-background test sets from ``"test"``,
    so no test background was seen in training. Files are split by a SHA-256
    of their name (of their path under a given folder), the same in every
    clone whatever the listing order; decoded tensors by position, the last
    half held out. The test part gets ``len // 2`` images, so a pool of one
    image has no test part.

    ``sample(h, w, part)`` returns a crop of a pool image of ``part``,
    resized to (3, h, w) floats in [0, 1]. The crop box has continuous
    position and size (bilinear sampling), so two draws from different
    generators practically never give the same crop. Without a generator it
    draws from torch's global generator, which DataLoader seeds differently
    in every worker.
    """

    PARTS = ("train", "test")

    def __init__(self, images: str | os.PathLike | list):
        folder = None
        if isinstance(images, (str, os.PathLike)):
            folder = Path(images)
            if not folder.is_dir():
                raise FileNotFoundError(f"background pool folder {folder} does not exist")
            images = find_images(folder)
        images = list(images)
        self.images = [p if isinstance(p, torch.Tensor) else read_image(p) for p in images]
        if not self.images:
            raise ValueError("the background pool is empty: give it at least one image")
        if any(isinstance(p, torch.Tensor) for p in images):
            order = list(range(len(images)))
        else:
            # Names, not absolute paths or listing order: the split must be the same in every clone.
            names = [Path(p).resolve().relative_to(folder.resolve()).as_posix() if folder else Path(p).name
                     for p in images]
            order = sorted(range(len(images)), key=lambda i: (hashlib.sha256(names[i].encode()).hexdigest(), i))
        held_out = len(order) // 2
        self.parts = {"train": sorted(order[:len(order) - held_out]), "test": sorted(order[len(order) - held_out:])}

    def __len__(self) -> int:
        return len(self.images)

    def part(self, name: str) -> list[int]:
        """The pool indices of part ``name`` (``"train"`` or ``"test"``)."""
        if name not in self.PARTS:
            raise ValueError(f"unknown pool part {name!r}; choose one of {self.PARTS}")
        if not self.parts[name]:
            raise ValueError(f"the background pool has {len(self)} image(s) and no {name} part: half of the pool "
                             "is held out for random-background tests, so give it at least two images")
        return self.parts[name]

    def draw(self, height: int, width: int, part: str = "train",
             generator: torch.Generator | None = None) -> tuple[int, tuple[float, float, float, float]]:
        """A pool index of ``part`` and a crop box (top, left, box height, box width) in its pixels, floats.

        The box has the (height, width) aspect ratio where the image is wide
        enough, and covers 30-100 % of the scene's height.
        """
        indices = self.part(part)
        index = indices[int(torch.randint(len(indices), (1,), generator=generator))]
        _, h, w = self.images[index].shape
        u = torch.rand(3, generator=generator, dtype=torch.float64).tolist()
        ch = h * (0.3 + 0.7 * u[0])
        cw = min(float(w), ch * width / height)
        return index, (u[1] * (h - ch), u[2] * (w - cw), ch, cw)

    def crop(self, index: int, box: tuple[float, float, float, float], height: int, width: int) -> torch.Tensor:
        """(3, height, width) floats in [0, 1]: pool image ``index`` inside ``box``, bilinearly resampled."""
        img = self.images[index]
        top, left, ch, cw = box
        # Only the pixels under the box become floats (a pool image may be large).
        y0, x0 = int(top), int(left)
        y1, x1 = min(img.shape[1], math.ceil(top + ch)), min(img.shape[2], math.ceil(left + cw))
        patch = img[:, y0:y1, x0:x1].unsqueeze(0).float() / 255.0
        roi = torch.tensor([[0.0, left - x0, top - y0, left - x0 + cw, top - y0 + ch]])
        # roi_align averages ceil(box / output) samples per output pixel: antialiased when shrinking.
        out = roi_align(patch, roi, (height, width), spatial_scale=1.0, sampling_ratio=-1, aligned=True)
        return out[0].clamp_(0.0, 1.0)

    def sample(self, height: int, width: int, generator: torch.Generator | None = None,
               part: str = "train") -> torch.Tensor:
        """(3, height, width) floats in [0, 1]: a random crop of a random image of ``part``."""
        return self.crop(*self.draw(height, width, part, generator), height, width)


def _foreground(sample: dict) -> torch.Tensor:
    if "mask" not in sample:
        raise KeyError("this transform needs the image's mask: load the dataset with masks")
    return sample["mask"] > 0


def background_seed(seed: int, split: str, path: str) -> int:
    """The generator seed of the random background of image ``path`` in ``split`` (a stable 64-bit hash).

    Not Python's ``hash`` (salted per process) and not the sample's position:
    query and gallery images at the same index must not share a background,
    and an image keeps its background however the records are ordered.
    """
    digest = hashlib.sha256(f"{seed}\0{split}\0{path}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


class BackgroundVariant:
    """Apply one of :data:`IMAGE_VARIANTS` to every sample (the test sets of Fig. 3, or MGCAM's mask input).

    ``random_background`` needs samples with a ``"split"`` and a ``"path"``
    (see :class:`reidlib.data.loaders.ReIDImages`): an image's background is
    drawn from a generator seeded by ``seed``, its split and its path, so a
    test set is the same every time it is built, and an image's background
    does not depend on its position in the split. Images of the training
    split take it from the pool's training part (the fixed random-background
    training set), every other split from the held-out test part.
    """

    def __init__(self, variant: str, pool: BackgroundPool | None = None, mean=IMAGENET_MEAN, seed: int = 0):
        if variant not in IMAGE_VARIANTS:
            raise ValueError(f"unknown background variant {variant!r}; choose one of {IMAGE_VARIANTS}")
        if variant == "random_background" and pool is None:
            raise ValueError("random_background needs a BackgroundPool of scene images")
        self.variant, self.pool, self.mean, self.seed = variant, pool, mean, seed

    def draw(self, sample: dict, height: int, width: int) -> tuple[int, tuple[float, float, float, float]]:
        """The pool image and crop box (see :meth:`BackgroundPool.draw`) of ``sample``'s random background."""
        missing = [k for k in ("split", "path") if sample.get(k) is None]
        if missing:
            # Seeding by index (as before) gave query i and gallery i the same background.
            raise KeyError(f"random_background needs the sample's {' and '.join(missing)}: build the dataset with "
                           "ReIDImages(records, transform, masks, split=..., root=...)")
        split, path = str(sample["split"]), str(sample["path"])
        gen = torch.Generator().manual_seed(background_seed(self.seed, split, path))
        return self.pool.draw(height, width, "train" if split == TRAIN_SPLIT else "test", gen)

    def __call__(self, sample: dict) -> dict:
        if self.variant == "original":
            return sample
        image, fg = sample["image"], _foreground(sample)
        if self.variant == "mean_background":
            new = mean_background(image, fg, self.mean)
        elif self.variant == "background_only":
            new = background_only(image, fg, self.mean)
        elif self.variant == "mask_only":
            new = mask_only(image, fg)
        else:
            size = image.shape[-2:]
            new = random_background(image, fg, self.pool.crop(*self.draw(sample, *size), *size))
        return {**sample, "image": tv_tensors.wrap(new, like=image)}


class RandomBackground:
    """With probability ``p``, replace the background by a random crop of the pool's training part."""

    def __init__(self, pool: BackgroundPool, p: float = 0.5):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must lie in [0, 1], got {p}")
        self.pool, self.p = pool, p

    def __call__(self, sample: dict) -> dict:
        if float(torch.rand(1)) >= self.p:
            return sample
        image = sample["image"]
        new = random_background(image, _foreground(sample), self.pool.sample(*image.shape[-2:], part="train"))
        return {**sample, "image": tv_tensors.wrap(new, like=image)}


class ToRGBM:
    """Append the binary foreground as a fourth channel: (4, H, W), mask in {0, 1} (MGCAM's RGB-M)."""

    def __call__(self, sample: dict) -> dict:
        image = sample["image"]
        fg = _foreground(sample).to(image.dtype).unsqueeze(0)
        return {**sample, "image": tv_tensors.wrap(torch.cat([image, fg]), like=image)}


class GaussianWeight:
    """Add ``"target"``: the image weighted by a centred 2-D Gaussian (FTN).

    ``sigma`` is a fraction of the image height / width; the weight is 1 at
    the centre, where a detector puts the person.
    """

    def __init__(self, sigma: float = 0.5):
        self.sigma = sigma

    @staticmethod
    def weight(height: int, width: int, sigma: float) -> torch.Tensor:
        y = (torch.arange(height) - (height - 1) / 2) / (sigma * height)
        x = (torch.arange(width) - (width - 1) / 2) / (sigma * width)
        return torch.exp(-0.5 * (y[:, None] ** 2 + x[None, :] ** 2))

    def __call__(self, sample: dict) -> dict:
        image = sample["image"]
        w = self.weight(*image.shape[-2:], self.sigma).to(image)
        return {**sample, "target": image.as_subclass(torch.Tensor) * w}


class ImageOnly:
    """Apply a transform to the image alone (e.g. random erasing must not erase the mask)."""

    def __init__(self, transform):
        self.transform = transform

    def __call__(self, sample: dict) -> dict:
        return {**sample, "image": self.transform(sample["image"])}


def build_transforms(
    height: int = 256,
    width: int = 128,
    train: bool = True,
    flip_p: float = 0.5,
    pad: int = 10,
    erasing_p: float = 0.5,
    background: str = "original",
    background_pool: BackgroundPool | None = None,
    random_background_p: float = 0.0,
    rgbm: bool = False,
    normalize: bool = True,
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
) -> v2.Compose:
    """The standard re-ID pipeline (BoT-style) with the study's background options.

    Training: resize, flip, pad-and-crop, [background variant], [random
    background with p], to [0, 1], [RGB-M], normalise, random erasing.
    Testing: resize, [background variant], to [0, 1], [RGB-M], normalise.
    The mask (if present) follows every geometric step.
    """
    steps: list = [v2.Resize((height, width), antialias=True)]
    if train:
        if flip_p > 0:
            steps.append(v2.RandomHorizontalFlip(flip_p))
        if pad > 0:
            steps += [v2.Pad(pad, padding_mode="constant"), v2.RandomCrop((height, width))]
    steps.append(v2.ToDtype({tv_tensors.Image: torch.float32, "others": None}, scale=True))
    if background != "original":
        steps.append(BackgroundVariant(background, background_pool, mean))
    if random_background_p > 0:
        if background_pool is None:
            raise ValueError("random_background_p > 0 needs a background_pool")
        steps.append(RandomBackground(background_pool, random_background_p))
    if rgbm:
        steps.append(ToRGBM())
    if normalize:
        # The mask channel of RGB-M is left as {0, 1}.
        steps.append(ImageOnly(v2.Normalize(list(mean) + [0.0] * rgbm, list(std) + [1.0] * rgbm)))
    if train and erasing_p > 0:
        steps.append(ImageOnly(v2.RandomErasing(erasing_p, value=0)))
    return v2.Compose(steps)


def variant_pictures(records, masks, variant: str, pool: BackgroundPool | None = None, seed: int = 0,
                     split: str = "test"):
    """(H, W, 3) uint8 pictures of ``records`` in a background variant, at their own size.

    For analyses outside a training pipeline (colour histograms, figures).
    Random backgrounds are seeded by ``split`` and each image's path under the
    mask source's image folder (held-out pool part unless ``split="train"``).
    """
    make = BackgroundVariant(variant, pool, seed=seed)
    for index, rec in enumerate(records):
        image = read_image(rec.path).float() / 255
        sample = make({"image": image, "mask": torch.from_numpy(masks.load(rec.path, size=image.shape[-2:])),
                       "index": index, "split": split, "path": image_key(rec.path, masks.image_root)})
        yield (sample["image"].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()

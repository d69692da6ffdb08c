"""Image and mask transforms, applied together, and the background-influence variants.

A sample is a dict with an ``"image"`` (a ``tv_tensors.Image``) and, when
masks are loaded, a ``"mask"`` (a ``tv_tensors.Mask`` of part labels, see
:mod:`reidlib.data.masks`). torchvision's v2 transforms move both with the
same geometry (masks resize with nearest neighbours); the transforms defined
here use the mask to change the background:

* ``mean_background``: the background filled with the mean pixel value;
* ``background_only``: the person filled with the mean pixel value;
* ``random_background``: the background replaced by a crop of an image from
  a pool of scenes the dataset does not contain;
* :class:`RandomBackground`: ``random_background`` with probability ``p``
  (the augmentation of the background-bias paper);
* :class:`ToRGBM`: a fourth input channel holding the binary mask (MGCAM);
* :class:`GaussianWeight`: the image weighted by a centred 2-D Gaussian (FTN's
  reconstruction target).

All of them work on float images in [0, 1], before normalisation.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from .images import find_images, read_image

# ImageNet statistics: the normalisation every torchvision backbone expects.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# The background-influence variants of the background-bias paper, and MGCAM's mask-only input.
BACKGROUND_VARIANTS = ("original", "mean_background", "background_only", "random_background")
IMAGE_VARIANTS = BACKGROUND_VARIANTS + ("mask_only",)


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
    """Scene images (without people of the dataset) to paste behind people.

    Args:
        images: image files (or decoded uint8 tensors), or a folder whose images are all used.

    ``sample(h, w)`` returns a random crop of a random pool image, resized to
    (3, h, w) floats in [0, 1]. Without a generator it draws from torch's
    global generator, which DataLoader seeds differently in every worker.
    """

    def __init__(self, images: str | os.PathLike | list):
        if isinstance(images, (str, os.PathLike)):
            folder = Path(images)
            if not folder.is_dir():
                raise FileNotFoundError(f"background pool folder {folder} does not exist")
            images = find_images(folder)
        self.images = [p if isinstance(p, torch.Tensor) else read_image(p) for p in images]
        if not self.images:
            raise ValueError("the background pool is empty: give it at least one image")

    def __len__(self) -> int:
        return len(self.images)

    def sample(self, height: int, width: int, generator: torch.Generator | None = None) -> torch.Tensor:
        gen = generator
        img = self.images[int(torch.randint(len(self.images), (1,), generator=gen))]
        _, h, w = img.shape
        # A crop with the person's aspect ratio, covering 30-100 % of the scene's height.
        ch = int(h * (0.3 + 0.7 * float(torch.rand(1, generator=gen))))
        cw = min(w, max(1, round(ch * width / height)))
        top = int(torch.randint(h - ch + 1, (1,), generator=gen))
        left = int(torch.randint(w - cw + 1, (1,), generator=gen))
        crop = img[:, top:top + ch, left:left + cw]
        crop = v2.functional.resize(crop, [height, width], antialias=True)
        return crop.float() / 255.0


def _foreground(sample: dict) -> torch.Tensor:
    if "mask" not in sample:
        raise KeyError("this transform needs the image's mask: load the dataset with masks")
    return sample["mask"] > 0


class BackgroundVariant:
    """Apply one of :data:`IMAGE_VARIANTS` to every sample (the test sets of Fig. 3, or MGCAM's mask input).

    The random background of a sample with an ``"index"`` is drawn from a
    generator seeded by ``seed`` and that index, so a test set is the same
    every time it is built.
    """

    def __init__(self, variant: str, pool: BackgroundPool | None = None, mean=IMAGENET_MEAN, seed: int = 0):
        if variant not in IMAGE_VARIANTS:
            raise ValueError(f"unknown background variant {variant!r}; choose one of {IMAGE_VARIANTS}")
        if variant == "random_background" and pool is None:
            raise ValueError("random_background needs a BackgroundPool of scene images")
        self.variant, self.pool, self.mean, self.seed = variant, pool, mean, seed

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
            gen = None
            if "index" in sample:
                gen = torch.Generator().manual_seed(self.seed * 1_000_003 + int(sample["index"]))
            new = random_background(image, fg, self.pool.sample(*image.shape[-2:], generator=gen))
        return {**sample, "image": tv_tensors.wrap(new, like=image)}


class RandomBackground:
    """With probability ``p``, replace the background by a random pool crop."""

    def __init__(self, pool: BackgroundPool, p: float = 0.5):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must lie in [0, 1], got {p}")
        self.pool, self.p = pool, p

    def __call__(self, sample: dict) -> dict:
        if float(torch.rand(1)) >= self.p:
            return sample
        image = sample["image"]
        new = random_background(image, _foreground(sample), self.pool.sample(*image.shape[-2:]))
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


def variant_pictures(records, masks, variant: str, pool: BackgroundPool | None = None, seed: int = 0):
    """(H, W, 3) uint8 pictures of ``records`` in a background variant, at their own size.

    For analyses outside a training pipeline (colour histograms, figures).
    """
    make = BackgroundVariant(variant, pool, seed=seed)
    for index, rec in enumerate(records):
        image = read_image(rec.path).float() / 255
        sample = make({"image": image, "mask": torch.from_numpy(masks.load(rec.path, size=image.shape[-2:])),
                       "index": index})
        yield (sample["image"].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()

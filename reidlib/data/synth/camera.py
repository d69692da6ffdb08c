"""What a surveillance camera does to the light: colour cast, exposure, optics, sensor and codec.

Each camera of a dataset gets a :class:`CameraModel`. :func:`develop` turns a
rendered crop (linear-ish sRGB floats, any size) into the final
``height x width`` uint8 image in this order:

1. exposure, colour cast (per-channel gain) and saturation, one 3 x 3 matrix;
2. resampling to the output size through the camera's *resolution*: a
   low-resolution camera (Market-1501's sixth is a 720 x 576 camera among
   1080 x 1920 ones) resolves only part of the output pixels, so the crop is
   shrunk to that size first and enlarged back;
3. Gaussian blur (focus, motion), the camera's sharpening (an unsharp
   mask), the tone curve (contrast and gamma, a lookup table) and sensor
   noise.

:func:`encode_jpeg` then compresses with the camera's JPEG quality (fixed
encoder settings, so files are byte-identical run to run).
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass, replace
from functools import lru_cache

import numpy as np
from PIL import Image

VIEW_NAMES = ("front", "back", "side")


@dataclass(frozen=True)
class CameraModel:
    """One camera's rendering parameters."""

    camera: int  # 0-based
    gain: tuple[float, float, float]  # colour cast, multiplies R, G, B
    exposure: float
    saturation: float
    contrast: float
    gamma: float
    noise: float  # sensor noise, standard deviation in 8-bit levels
    blur: float  # Gaussian blur radius in output pixels
    sharpen: float  # unsharp-mask strength: cameras sharpen, which gives crisp edges with faint halos
    resolution: float  # fraction of the output resolution the camera resolves
    jpeg_quality: int
    views: tuple[float, float, float]  # probability that a tracklet shows a person from the front / back / side

    def to_meta(self) -> dict[str, object]:
        return {k: ([round(float(x), 3) for x in v] if isinstance(v, tuple) else
                    round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def sample_camera(camera: int, rng: np.random.Generator, difficulty: float = 0.5, low_res: bool = False,
                  renderer: int = 1) -> CameraModel:
    """Draw a camera's parameters; ``difficulty`` widens every spread.

    Renderer 1's cameras differ little in colour (a white-balance spread under 1 %), so that a colour
    histogram alone re-identifies many people. Renderer 2's (:func:`_real_camera`) differ as surveillance
    cameras do: colour response, gamma, saturation, focus, noise and compression.
    """
    d = difficulty
    cast = rng.normal(0.0, 0.003 + 0.01 * d, 3)  # residual white-balance error
    gain = np.exp(cast - cast.mean())  # a tint, not a brightness change
    # A camera sees people either crossing its view (mostly sides) or coming and going (fronts and backs).
    if rng.random() < 0.5:
        views = (0.15, 0.15, 0.7)
    else:
        views = (0.42, 0.42, 0.16)
    model = CameraModel(
        camera=camera,
        gain=tuple(float(g) for g in gain),
        exposure=float(np.clip(0.92 * np.exp(rng.normal(0.0, 0.04 + 0.08 * d)), 0.7, 1.2)),
        saturation=float(rng.uniform(0.45, 0.8)),
        contrast=float(rng.uniform(0.78, 1.02)),
        gamma=float(np.exp(rng.normal(0.0, 0.07))),
        noise=float(rng.uniform(1.0, 2.0 + 3.0 * d)),
        blur=float(rng.uniform(0.25, 0.4 + 0.3 * d)),
        sharpen=float(rng.uniform(0.3, 1.2)),
        resolution=float(rng.uniform(0.42, 0.5) if low_res else rng.uniform(0.8, 1.0)),
        jpeg_quality=int(rng.integers(55, 70) if low_res else rng.integers(70, 93)),
        views=views,
    )
    return _real_camera(model, rng, difficulty, low_res) if renderer >= 2 else model


def _real_camera(model: CameraModel, rng: np.random.Generator, difficulty: float, low_res: bool) -> CameraModel:
    """Renderer 2: ``model`` with the spreads of real surveillance cameras, drawn after renderer 1's.

    The colour response differs by several percent per channel (auto white balance under different lamps
    and daylight), gamma and saturation by tens of percent; focus, sharpening, sensor noise and JPEG
    quality vary from crisp to soft and blocky.
    """
    d = difficulty
    cast = rng.normal(0.0, 0.03 + 0.04 * d, 3)
    return replace(
        model,
        gain=tuple(float(g) for g in np.exp(cast - cast.mean())),
        saturation=float(rng.uniform(0.4, 0.8)),
        contrast=float(rng.uniform(0.8, 1.1)),
        gamma=float(np.exp(rng.normal(0.0, 0.15))),
        noise=float(rng.uniform(2.0, 4.5 + 3.0 * d)),
        blur=float(rng.uniform(0.2, 0.35 + 0.3 * d)),
        sharpen=float(rng.uniform(1.1, 2.5)),  # surveillance cameras sharpen hard: crisp edges, clear halos
        jpeg_quality=int(rng.integers(45, 65) if low_res else rng.integers(55, 93)),
    )


def colour_matrix(camera: CameraModel, exposure: float = 1.0) -> np.ndarray:
    """(3, 3) matrix applying exposure, colour cast and saturation to row-vector RGB pixels."""
    grey = np.full((3, 3), 1.0 / 3.0)
    sat = camera.saturation * np.eye(3) + (1.0 - camera.saturation) * grey  # pull towards the pixel's grey
    return (np.diag(np.asarray(camera.gain) * camera.exposure * exposure) @ sat).astype(np.float32)


@lru_cache(maxsize=64)
def tone_curve(camera: CameraModel) -> np.ndarray:
    """(256,) float32 lookup table of contrast (around mid-grey) and gamma on 8-bit levels."""
    v = np.arange(256) / 255.0
    v = np.clip((v - 0.45) * camera.contrast + 0.45, 0.0, 1.0) ** camera.gamma
    return (v * 255.0).astype(np.float32)


def blur3(image: np.ndarray, sigma: float) -> np.ndarray:
    """A separable 3-tap Gaussian blur of an (H, W, C) float array (edges repeated); fine for sigma <= 1."""
    g = float(np.exp(-0.5 / sigma**2))
    w = g / (1.0 + 2.0 * g)
    out = image * (1.0 - 2.0 * w)
    out[1:] += w * image[:-1]
    out[:-1] += w * image[1:]
    out[0] += w * image[0]
    out[-1] += w * image[-1]
    res = out * (1.0 - 2.0 * w)
    res[:, 1:] += w * out[:, :-1]
    res[:, :-1] += w * out[:, 1:]
    res[:, 0] += w * out[:, 0]
    res[:, -1] += w * out[:, -1]
    return res


def noise_bank(camera: CameraModel, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """(2H, 2W, 3) float32 sensor noise of the camera; each image takes a random (H, W) window of it."""
    H, W = size
    return rng.standard_normal((2 * H, 2 * W, 3), dtype=np.float32) * camera.noise


def develop(crop: np.ndarray, box: tuple[float, float, float, float], camera: CameraModel, size: tuple[int, int],
            rng: np.random.Generator, exposure: float = 1.0, noise: np.ndarray | None = None) -> np.ndarray:
    """The camera's (H, W, 3) uint8 image of ``box`` = (x0, y0, x1, y1) within ``crop`` (h, w, 3) float.

    Args:
        size: (H, W) of the output image.
        exposure: an extra factor for this image (shade, a passing cloud).
        noise: the camera's :func:`noise_bank` (drawn here if omitted).
    """
    H, W = size
    x = crop.reshape(-1, 3) @ colour_matrix(camera, exposure)
    img = Image.fromarray(np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8).reshape(crop.shape))
    if camera.resolution < 0.98:
        small = (max(8, round(W * camera.resolution)), max(16, round(H * camera.resolution)))
        img = img.resize(small, Image.BILINEAR, box=box).resize((W, H), Image.BILINEAR)
    else:
        img = img.resize((W, H), Image.BILINEAR, box=box)
    out = np.asarray(img, dtype=np.float32)
    if camera.blur > 0.2:
        out = blur3(out, camera.blur)
    if camera.sharpen > 0:
        out = np.clip(out + camera.sharpen * (out - blur3(out, 0.8)), 0.0, 255.0)
    out = tone_curve(camera)[(out + 0.5).astype(np.uint8)]
    if noise is None:
        noise = noise_bank(camera, size, rng)
    y0, x0 = int(rng.integers(noise.shape[0] - H + 1)), int(rng.integers(noise.shape[1] - W + 1))
    out += noise[y0:y0 + H, x0:x0 + W]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def resample_labels(labels: np.ndarray, box: tuple[float, float, float, float], size: tuple[int, int]) -> np.ndarray:
    """Part labels of ``box`` resampled to (H, W) by nearest neighbour (labels are not averaged)."""
    H, W = size
    return np.asarray(Image.fromarray(labels).resize((W, H), Image.NEAREST, box=box))


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    """JPEG bytes with fixed settings (4:2:0, no optimisation pass): deterministic for a given input."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=int(quality), subsampling=2, optimize=False)
    return buf.getvalue()

"""Who walks past the cameras: sampling a person's appearance attributes.

An :class:`Identity` is everything that stays the same about a person from
camera to camera: body proportions, skin, hair, clothes, shoes and bag. The
frequencies follow a street crowd rather than a uniform palette: about half
the upper garments and most trousers are black, grey, navy or denim, so many
people look alike to anything that only counts colours. ``difficulty``
(0..1) shifts the palettes further towards those dark and neutral colours.

Colours are sRGB triples in [0, 1]; names are kept for the metadata.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

Colour = tuple[float, float, float]

# (name, sRGB, weight, neutral?) : neutral colours gain weight with difficulty.
UPPER_COLOURS = (
    ("black", (0.07, 0.07, 0.08), 22, True), ("charcoal", (0.19, 0.19, 0.21), 10, True),
    ("grey", (0.45, 0.45, 0.46), 8, True), ("white", (0.86, 0.86, 0.84), 11, True),
    ("navy", (0.10, 0.13, 0.28), 8, True), ("blue", (0.18, 0.33, 0.62), 4, False),
    ("light blue", (0.55, 0.67, 0.83), 3, False), ("red", (0.68, 0.11, 0.12), 4, False),
    ("pink", (0.88, 0.58, 0.66), 2, False), ("purple", (0.38, 0.20, 0.43), 1.5, False),
    ("green", (0.19, 0.38, 0.24), 2, False), ("khaki", (0.52, 0.49, 0.34), 3, True),
    ("beige", (0.78, 0.70, 0.56), 5, True), ("brown", (0.33, 0.21, 0.13), 4, True),
    ("yellow", (0.88, 0.78, 0.24), 1, False), ("orange", (0.88, 0.44, 0.14), 0.5, False),
    ("dark red", (0.35, 0.08, 0.1), 2, True), ("olive", (0.3, 0.3, 0.2), 2, True),
)
LOWER_COLOURS = (
    ("black", (0.07, 0.07, 0.08), 32, True), ("dark denim", (0.12, 0.16, 0.27), 22, True),
    ("denim", (0.30, 0.40, 0.56), 12, True), ("grey", (0.42, 0.42, 0.43), 10, True),
    ("charcoal", (0.20, 0.20, 0.21), 6, True), ("khaki", (0.62, 0.56, 0.42), 8, True),
    ("white", (0.85, 0.85, 0.82), 3, True), ("brown", (0.32, 0.22, 0.15), 3, True),
    ("navy", (0.11, 0.13, 0.26), 4, True), ("red", (0.60, 0.12, 0.13), 1, False),
    ("green", (0.22, 0.32, 0.22), 1, False),
)
SHOE_COLOURS = (
    ("black", (0.06, 0.06, 0.06), 38, True), ("white", (0.88, 0.88, 0.86), 30, True),
    ("grey", (0.45, 0.45, 0.46), 10, True), ("brown", (0.30, 0.19, 0.11), 10, True),
    ("blue", (0.15, 0.22, 0.45), 5, False), ("red", (0.70, 0.13, 0.13), 3, False),
    ("beige", (0.72, 0.64, 0.50), 4, True),
)
HAIR_COLOURS = (
    ("black", (0.05, 0.04, 0.04), 62, True), ("dark brown", (0.16, 0.10, 0.07), 24, True),
    ("brown", (0.32, 0.20, 0.11), 8, True), ("blond", (0.72, 0.58, 0.36), 3, False),
    ("grey", (0.55, 0.54, 0.52), 3, True),
)
BAG_COLOURS = (
    ("black", (0.06, 0.06, 0.07), 45, True), ("charcoal", (0.20, 0.20, 0.22), 12, True),
    ("brown", (0.33, 0.20, 0.11), 12, True), ("navy", (0.11, 0.14, 0.30), 9, True),
    ("red", (0.66, 0.12, 0.12), 6, False), ("beige", (0.74, 0.64, 0.48), 6, True),
    ("blue", (0.18, 0.35, 0.62), 5, False), ("green", (0.20, 0.38, 0.25), 3, False),
    ("pink", (0.86, 0.56, 0.64), 2, False),
)
HAT_COLOURS = (
    ("black", (0.06, 0.06, 0.07), 50, True), ("white", (0.85, 0.85, 0.83), 15, True),
    ("navy", (0.11, 0.14, 0.30), 12, True), ("red", (0.66, 0.12, 0.12), 8, False),
    ("grey", (0.45, 0.45, 0.46), 10, True), ("beige", (0.74, 0.64, 0.48), 5, True),
)
PATTERNS = ("solid", "stripes", "checks", "print", "logo")
PATTERN_WEIGHTS = (78, 7, 5, 2, 8)
LOWER_KINDS = ("trousers", "shorts", "skirt")
LOWER_WEIGHTS = (78, 12, 10)
BAG_KINDS = ("none", "backpack", "handbag", "shoulder bag")
BAG_WEIGHTS = (45, 30, 10, 15)
HAIR_LENGTHS = ("short", "medium", "long")
HAIR_WEIGHTS = (55, 20, 25)
# Skin from light to dark; a person's tone is a point between the two.
SKIN_LIGHT, SKIN_DARK = np.array([0.93, 0.77, 0.64]), np.array([0.40, 0.26, 0.17])


@dataclass(frozen=True)
class Build:
    """Body proportions, each a factor around 1 (``height`` scales the whole figure)."""

    height: float
    shoulders: float
    hips: float
    bulk: float
    head: float
    legs: float


@dataclass(frozen=True)
class Identity:
    """The appearance of one person (colours are sRGB in [0, 1])."""

    build: Build
    skin: Colour
    hair: str  # colour name
    hair_rgb: Colour
    hair_length: str  # short / medium / long
    hat: str  # "none" or a colour name
    hat_rgb: Colour
    upper: str
    upper_rgb: Colour
    pattern: str  # solid / stripes / checks / print / logo
    open_jacket: bool  # an open jacket shows the garment below as a strip down the front
    inner: str
    inner_rgb: Colour
    pattern_rgb: Colour
    pattern_scale: float  # stripe / check period, in units of the figure height
    sleeves: str  # long / short
    upper_length: float  # how far the garment reaches below the hips (figure heights): a coat covers the thighs
    lower_kind: str  # trousers / shorts / skirt
    lower: str
    lower_rgb: Colour
    tights: bool  # dark legs under a skirt or shorts
    shoes: str
    shoes_rgb: Colour
    bag: str  # none / backpack / handbag / shoulder bag
    bag_color: str
    bag_rgb: Colour
    bag_side: int  # +1 or -1: the side a handbag or shoulder bag hangs on
    stride: float  # gait amplitude factor
    texture_seed: int  # cloth texture noise

    def to_meta(self) -> dict[str, object]:
        """A compact, JSON-ready description (names and rounded numbers)."""
        d = asdict(self)
        out: dict[str, object] = {}
        for key, value in d.items():
            if key == "texture_seed":
                continue
            if key.endswith("_rgb") or key == "skin":
                out[key] = [round(float(v), 2) for v in value]
            elif isinstance(value, dict):
                out[key] = {k: round(float(v), 3) for k, v in value.items()}
            elif isinstance(value, float):
                out[key] = round(value, 3)
            else:
                out[key] = value
        return out


def _pick(rng: np.random.Generator, options: tuple, weights: tuple | None = None) -> object:
    p = np.asarray(weights if weights is not None else [1] * len(options), dtype=float)
    return options[int(rng.choice(len(options), p=p / p.sum()))]


def _pick_colour(rng: np.random.Generator, palette: tuple, difficulty: float, jitter: float = 0.05,
                 ) -> tuple[str, Colour]:
    """A palette entry, weights tilted towards neutral colours as ``difficulty`` grows, with a small jitter.

    The jitter is multiplicative in brightness plus a little per channel, so
    two "black" jackets are never pixel-identical but stay black.
    """
    tilt = np.array([(0.5 + difficulty) if neutral else (1.5 - difficulty) for *_, neutral in palette])
    weights = np.array([w for _, _, w, _ in palette], float) * tilt
    name, rgb, _, _ = palette[int(rng.choice(len(palette), p=weights / weights.sum()))]
    c = np.asarray(rgb) * rng.uniform(1 - 2 * jitter, 1 + 2 * jitter) + rng.normal(0, jitter / 2, 3)
    return name, tuple(float(v) for v in np.clip(c, 0.02, 0.97))


def sample_identity(rng: np.random.Generator, difficulty: float = 0.5) -> Identity:
    """Draw one person's attributes with street-crowd frequencies."""
    build = Build(
        height=float(np.clip(rng.normal(1.0, 0.035), 0.92, 1.08)), shoulders=float(rng.normal(1.0, 0.07)),
        hips=float(rng.normal(1.0, 0.06)), bulk=float(np.clip(rng.normal(1.0, 0.1), 0.8, 1.3)),
        head=float(rng.normal(1.0, 0.04)), legs=float(rng.normal(1.0, 0.025)),
    )
    tone = rng.beta(2.0, 3.0)
    skin = np.clip((1 - tone) * SKIN_LIGHT + tone * SKIN_DARK + rng.normal(0, 0.015, 3), 0, 1)
    hair, hair_rgb = _pick_colour(rng, HAIR_COLOURS, difficulty, 0.03)
    hat, hat_rgb = ("none", (0.0, 0.0, 0.0))
    if rng.random() < 0.1:
        hat, hat_rgb = _pick_colour(rng, HAT_COLOURS, difficulty)
    upper, upper_rgb = _pick_colour(rng, UPPER_COLOURS, difficulty)
    pattern = str(_pick(rng, PATTERNS, PATTERN_WEIGHTS))
    # A pattern's second colour contrasts with the garment: light on dark, dark on light.
    _, second = _pick_colour(rng, UPPER_COLOURS, 0.0)
    if abs(np.mean(second) - np.mean(upper_rgb)) < 0.25:
        second = tuple(float(v) for v in np.clip(1.0 - np.asarray(second) * 0.9, 0.05, 0.95))
    # Woven and printed patterns are less contrasted than a logo.
    mix = {"print": 0.55, "stripes": 0.3, "checks": 0.3}.get(pattern, 0.0)
    second = tuple(float((1 - mix) * a + mix * c) for a, c in zip(second, upper_rgb))
    inner, inner_rgb = _pick_colour(rng, UPPER_COLOURS, difficulty)
    open_jacket = bool(rng.random() < 0.3 and abs(np.mean(inner_rgb) - np.mean(upper_rgb)) > 0.15)
    lower_kind = str(_pick(rng, LOWER_KINDS, LOWER_WEIGHTS))
    lower, lower_rgb = _pick_colour(rng, LOWER_COLOURS, difficulty)
    shoes, shoes_rgb = _pick_colour(rng, SHOE_COLOURS, difficulty)
    bag = str(_pick(rng, BAG_KINDS, BAG_WEIGHTS))
    bag_color, bag_rgb = _pick_colour(rng, BAG_COLOURS, difficulty) if bag != "none" else ("none", (0.0, 0.0, 0.0))
    return Identity(
        build=build, skin=tuple(float(v) for v in skin), hair=hair, hair_rgb=hair_rgb,
        hair_length=str(_pick(rng, HAIR_LENGTHS, HAIR_WEIGHTS)), hat=hat, hat_rgb=hat_rgb,
        upper=upper, upper_rgb=upper_rgb, pattern=pattern, open_jacket=open_jacket, inner=inner, inner_rgb=inner_rgb,
        pattern_rgb=second,
        pattern_scale=float(rng.uniform(0.035, 0.07)), sleeves="long" if rng.random() < 0.7 else "short",
        upper_length=float(_pick(rng, (0.0, 0.04, 0.12), (35, 50, 15))) + float(rng.uniform(0.0, 0.02)),
        lower_kind=lower_kind, lower=lower, lower_rgb=lower_rgb, tights=bool(rng.random() < 0.4),
        shoes=shoes, shoes_rgb=shoes_rgb, bag=bag, bag_color=bag_color, bag_rgb=bag_rgb,
        bag_side=int(rng.choice([-1, 1])), stride=float(rng.uniform(0.8, 1.15)),
        texture_seed=int(rng.integers(2**31)),
    )

"""SynthReID: a procedural person re-ID dataset with ground-truth part masks.

Real re-ID datasets have no foreground masks, and their background bias
cannot be turned up or down. SynthReID renders articulated people walking
past cameras with their own scenes, in tracklets that share background the
way real detections do, and writes a dataset in the Market-1501 layout with
a part-label mask per image.

>>> from reidlib.data.synth import generate, ensure
>>> root = ensure("tiny")                                   # doctest: +SKIP
>>> root = generate("/tmp/synth", "small", bg_share=0.9)    # doctest: +SKIP
>>> from reidlib.data import load_dataset
>>> ds = load_dataset("folder", root)                       # doctest: +SKIP

Modules: :mod:`.identity` (attributes), :mod:`.figure` (the articulated
figure), :mod:`.scene` (camera scenes), :mod:`.camera` (camera effects),
:mod:`.presets` (:class:`SynthConfig`, :data:`PRESETS`), :mod:`.generate`
(tracklets, crops, files), :mod:`.stats` (image statistics). Command line:
``python -m reidlib.data.synth --preset market --out DIR``.
"""

from .generate import ensure, generate
from .presets import PRESETS, SynthConfig, make_config

__all__ = ["PRESETS", "SynthConfig", "ensure", "generate", "make_config"]

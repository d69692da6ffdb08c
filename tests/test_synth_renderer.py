"""SynthReID renderer 2 (issue 30): every image of a person its own rendering, role maps; renderer 1 unchanged."""

import hashlib
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reidlib.data.synth import generate, make_config
from reidlib.data.synth.figure import render_poses
from reidlib.data.synth.generate import ROLE_FOLDER, ROLES, TARGET
from reidlib.data.synth.identity import sample_identity
from reidlib.data.synth.presets import config_key


def digests(root: Path) -> list[str]:
    """The sprite digest of every image of a dataset (meta.json)."""
    return json.loads((root / "meta.json").read_text())["images"]["sprite"]


@pytest.fixture(scope="module")
def tiny2(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("tiny2") / "a", "tiny", seed=0, progress=False, renderer=2)


def test_renderer_1_keeps_its_cache_key():
    """Renderer-1 datasets (every committed cpu result's data) keep the key they had before renderer 2."""
    config = make_config("small")
    assert "renderer" not in config.to_dict()
    assert config_key(config, 0) == config_key(make_config("small", renderer=1), 0)
    assert config_key(config, 0) != config_key(make_config("small", renderer=2), 0)
    with pytest.raises(ValueError, match="renderer must be one of 1, 2"):
        make_config("tiny", renderer=3)


def test_renderer_1_shares_person_pixels_across_images(tmp_path):
    """The fault renderer 2 mends: renderer 1 reuses one rendering per pose (this is what the test detects)."""
    root = generate(tmp_path / "v1", "tiny", seed=0, progress=False)
    counts = Counter(digests(root))
    shared = sum(n for n in counts.values() if n > 1)
    assert shared > 0.2 * sum(counts.values())


def test_no_two_images_share_person_pixels(tiny2):
    """Each image's person pixels (before compositing, up to a mirror image) are its own."""
    found = digests(tiny2)
    assert len(found) == len(set(found)) > 300


def test_same_seed_same_bytes(tiny2, tmp_path):
    again = generate(tmp_path / "b", "tiny", seed=0, progress=False, workers=2, renderer=2)
    files = [p.relative_to(tiny2) for p in sorted(tiny2.rglob("*")) if p.is_file()]
    assert files == [p.relative_to(again) for p in sorted(again.rglob("*")) if p.is_file()]
    for rel in files:
        assert hashlib.sha256((tiny2 / rel).read_bytes()).digest() == hashlib.sha256((again / rel).read_bytes()).digest()


def test_role_maps_agree_with_part_masks(tiny2):
    """A role map per image; its target-person pixels are exactly the part mask's person pixels."""
    images = sorted((tiny2 / "query").glob("*.jpg")) + sorted((tiny2 / "bounding_box_test").glob("*.jpg"))
    seen = set()
    for image in images:
        rel = image.relative_to(tiny2).with_suffix(".png")
        roles = np.asarray(Image.open(tiny2 / ROLE_FOLDER / rel))
        parts = np.asarray(Image.open(tiny2 / "masks" / rel))
        assert roles.shape == parts.shape
        assert set(np.unique(roles)) <= set(ROLES)
        np.testing.assert_array_equal(roles == TARGET, parts > 0)
        seen.update(np.unique(roles).tolist())
    assert seen == set(ROLES)  # other people and occluders do occur in the tiny preset


def test_render_poses_takes_continuous_phases_and_per_pose_light():
    ident = sample_identity(np.random.default_rng(0), 0.5)
    a, b, c = render_poses(ident, "side", [2.0, 2.3, 2.0], 60.0, light=[0.1, 0.1, -0.2])
    assert not np.array_equal(a.alpha, b.alpha)  # a phase between two whole phases is another pose
    np.testing.assert_array_equal(a.alpha, c.alpha)  # light changes shading only
    assert not np.array_equal(a.rgb, c.rgb)
    (d,) = render_poses(ident, "side", [2.0], 60.0)  # the default light is renderer 1's
    np.testing.assert_array_equal(a.rgb, d.rgb)

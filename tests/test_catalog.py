"""Datasets by name: SynthReID presets from the cache, real datasets from data_root."""

import pytest

from reidlib.data import BackgroundPool
from reidlib.data.catalog import open_dataset
from reidlib.data.fixtures import write_fixture
from reidlib.data.synth.backgrounds import scene_backgrounds


def test_synth_presets_are_generated_once_and_read_as_folders(tmp_path):
    ds = open_dataset("synth-tiny", cache_dir=tmp_path)
    assert ds.name == "synth-tiny" and ds.train and ds.query and ds.gallery
    again = open_dataset("synth-tiny", cache_dir=tmp_path)
    assert again.root == ds.root and len(again.train) == len(ds.train)


def test_real_dataset_needs_its_folder(tmp_path):
    with pytest.raises(ValueError, match="pass data_root"):
        open_dataset("market1501")
    with pytest.warns(UserWarning, match="official release"):
        ds = open_dataset("market1501", write_fixture("market1501", tmp_path / "m"))
    assert ds.name == "market1501"


@pytest.mark.parametrize("name, message", [("synth-huge", "unknown SynthReID preset"), ("imagenet", "unknown dataset")])
def test_unknown_names(name, message):
    with pytest.raises(ValueError, match=message):
        open_dataset(name)


def test_scene_backgrounds_make_a_pool():
    crops = scene_backgrounds("C", count=3, unit=64)
    assert len(crops) == 3 and crops[0].shape == (3, 77, 38)
    assert BackgroundPool(crops).sample(32, 16).shape == (3, 32, 16)

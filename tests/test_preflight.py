"""The pre-flight check: a bad image or a missing mask stops a run before its first training step."""

import re
import warnings

import numpy as np
import pytest
from PIL import Image

from reidlib.data.fixtures import write_fixture, write_image
from reidlib.data.images import find_images
from reidlib.data.masks import write_label_map
from reidlib.engine import make_config
from reidlib.engine.preflight import SHOWN, RunInputError, check_run_inputs
from reidlib.engine.trainer import Trainer


class NoTraining(Trainer):
    """The real trainer, failing the test if a training epoch starts."""

    def _train_epoch(self, *args, **kwargs):
        raise AssertionError("a training epoch started before the bad input was found")


def market_fixture(tmp_path, masks=False):
    """A tiny Market-1501 folder (18 images of 8 x 16), with a mask tree mirroring it if ``masks``."""
    root = write_fixture("market1501", tmp_path / "market")
    images = root / "Market-1501-v15.09.15"
    if masks:
        for path in find_images(images):
            write_label_map(tmp_path / "masks" / (path.relative_to(images)).with_suffix(".png"),
                            np.ones((16, 8), np.uint8))
    return root, images


def fixture_config(tmp_path, root, *overrides):
    return make_config("ide", "ci", overrides=[
        f"output_dir={tmp_path / 'run'}", "data.dataset=market1501", f"data.data_root={root}", "schedule.epochs=1",
        "data.batch_size=4", "data.num_instances=2", "data.num_workers=0", *overrides])


def fit(config):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fixture's counts are not the release's
        return NoTraining(config).fit()


def test_a_corrupt_or_cut_off_image_stops_the_run_before_training(tmp_path):
    root, images = market_fixture(tmp_path)
    garbage = images / "bounding_box_test" / "0003_c5s1_000051_01.jpg"
    garbage.write_bytes(b"\x00garbage, not a JPEG" * 10)
    # A JPEG cut off in its pixel data: it opens (and passes PIL's verify()), only decoding fails.
    cut = images / "query" / "0001_c2s1_000026_01.jpg"
    write_image(cut, pixels=np.random.default_rng(0).integers(0, 256, (64, 32, 3), dtype=np.uint8))
    data = cut.read_bytes()
    cut.write_bytes(data[:len(data) * 3 // 4])
    with Image.open(cut) as im:
        im.verify()
    with pytest.raises(RunInputError) as err:
        fit(fixture_config(tmp_path, root))
    message = str(err.value)
    assert message.startswith("2 of the 18 images this run reads are missing or unreadable; nothing has been trained")
    assert f"query: cannot decode image {cut}: image file is truncated" in message
    assert f"gallery: cannot decode image {garbage}" in message
    assert "python -m reidlib.data.inspect" in message and "mask" not in message
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_a_missing_or_misfit_mask_stops_the_run_before_training(tmp_path):
    root, images = market_fixture(tmp_path, masks=True)
    missing = tmp_path / "masks" / "query" / "0003_c4s1_000051_01.png"
    missing.unlink()
    misfit = tmp_path / "masks" / "bounding_box_train" / "0007_c1s1_000051_01.png"
    write_label_map(misfit, np.ones((8, 8), np.uint8))
    config = fixture_config(tmp_path, root, f"data.mask_root={tmp_path / 'masks'}",
                            "data.test_background=mean_background")  # loads masks for training and testing
    with pytest.raises(RunInputError) as err:
        fit(config)
    message = str(err.value)
    assert message.startswith("2 of the 18 images and 18 masks this run reads are missing or unreadable")
    assert f"query: missing mask {missing} for image {images / 'query' / '0003_c4s1_000051_01.jpg'}" in message
    assert re.search(f"train: mask {re.escape(str(misfit))} is 8x8 but its image is 16x8", message)
    assert "python -m reidlib.data.segment masks" in message and "data.mask_root" in message


def test_every_file_is_read_and_a_long_list_is_cut(tmp_path):
    root, _ = market_fixture(tmp_path, masks=True)
    config = fixture_config(tmp_path, root, f"data.mask_root={tmp_path / 'masks'}",
                            "data.test_background=mean_background")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = Trainer(config)
        trainer._build()
    assert check_run_inputs(trainer.data) == 18 + 18
    for path in sorted((tmp_path / "masks").rglob("*.png")):
        path.unlink()
    with pytest.raises(RunInputError, match=f"(?s)18 of the 18 images.*\n  and {18 - SHOWN} more\nTo fix"):
        check_run_inputs(trainer.data)


def test_preloaded_images_are_the_files_and_a_bad_one_is_named_when_decoding(tmp_path):
    from reidlib.data.datasets import load_dataset
    from reidlib.data.images import ImageReadError, read_image
    from reidlib.data.loaders import ReIDImages

    root, images = market_fixture(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = load_dataset("market1501", root)
    served = ReIDImages(dataset.query, preload=True, split="query", root=images)
    for i, record in enumerate(dataset.query):
        assert served[i]["image"].equal(read_image(record.path))
    served[0]["image"].zero_()  # a transform writing into its sample must not change the preloaded copy
    assert served[0]["image"].equal(read_image(dataset.query[0].path))
    bad = dataset.query[1].path
    with open(bad, "wb") as f:
        f.write(b"not a jpeg")
    with pytest.raises(ImageReadError, match=rf"1 of {len(dataset.query)} query images cannot be read: .*"
                                             rf"{re.escape(bad)}.*Restore these files"):
        ReIDImages(dataset.query, preload=True, split="query", root=images)

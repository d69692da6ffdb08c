"""The part parser (reidlib.models.parsing) and its command line (reidlib.data.parse)."""

import json

import numpy as np
import pytest
import torch

from reidlib.data import parse
from reidlib.data.catalog import open_dataset
from reidlib.data.masks import NUM_LABELS, MaskSource
from reidlib.models.parsing import PartParser, PyramidPooling

# Few people: the whole file runs in seconds.
SMALL = {"num_train_ids": 6, "num_test_ids": 4, "num_distractor_images": 2, "num_junk_images": 2}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """``--dataset-options`` of a small synth-tiny in a temporary cache, generated once."""
    cache = tmp_path_factory.mktemp("synth")
    options = {"cache_dir": str(cache), "seed": 3, **SMALL}
    open_dataset("synth-tiny", **options)
    return json.dumps(options)  # JSON is YAML


@pytest.fixture(scope="module")
def weights(tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("parser") / "parser.pt"
    assert parse.main(["train", "--dataset", "synth-tiny", "--dataset-options", tiny, "--out", str(out),
                       "--epochs", "1", "--width", "4", "--batch", "16"]) == 0
    return out


def test_output_shape_and_pyramid_bins():
    model = PartParser(width=4).eval()
    assert model(torch.zeros(2, 3, 128, 64)).shape == (2, NUM_LABELS, 128, 64)
    assert PartParser(width=4, skip=False).eval()(torch.zeros(1, 3, 64, 32)).shape == (1, NUM_LABELS, 64, 32)
    ppm = PyramidPooling(16, bins=(1, 2, 3, 6))
    pooled = [stage[0](torch.zeros(1, 16, 16, 8)).shape[-2:] for stage in ppm.stages]
    assert pooled == [(1, 1), (2, 2), (3, 3), (6, 6)]
    assert ppm.eval()(torch.zeros(1, 16, 16, 8)).shape == (1, 16 + 4 * 4, 16, 8) == (1, ppm.out_channels, 16, 8)


def test_scores_from_a_confusion_matrix():
    target = torch.tensor([[0, 0, 1, 2]])
    pred = torch.tensor([[0, 1, 1, 3]])
    s = parse.scores(parse.confusion(pred, target))
    assert s["iou"]["background"] == 0.5 and s["iou"]["head"] == 0.5 and s["iou"]["upper body"] == 0.0
    assert s["iou"]["accessories"] is None and s["pixel_accuracy"] == 0.5
    assert s["foreground_iou"] == pytest.approx(2 / 3, abs=1e-4)


def test_dataset_options_parse_yaml_and_default_the_seed():
    assert parse.dataset_options("{seed: 7, bg_share: 0.9}", 1000) == {"seed": 7, "bg_share": 0.9}
    assert parse.dataset_options("{bg_share: 1e-1}") == {"bg_share": 0.1}  # every float spelling
    assert parse.dataset_options(None, 1000) == {"seed": 1000}
    with pytest.raises(ValueError, match="YAML mapping"):
        parse.dataset_options("[1, 2]")


def test_training_checkpoints_and_resumes(tiny, tmp_path, capsys, monkeypatch):
    out = tmp_path / "p.pt"
    args = ["train", "--dataset", "synth-tiny", "--dataset-options", tiny, "--out", str(out), "--epochs", "2",
            "--width", "4", "--batch", "16"]
    real_eval, calls = parse.evaluate_tensors, []

    def interrupted(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the session ends during the second epoch's validation
        return real_eval(*a, **k)

    monkeypatch.setattr(parse, "evaluate_tensors", interrupted)
    with pytest.raises(KeyboardInterrupt):
        parse.main(args)
    partial = out.with_suffix(".partial.pt")
    assert partial.exists() and not out.exists()
    assert "epoch 1/2: loss" in capsys.readouterr().out
    monkeypatch.setattr(parse, "evaluate_tensors", real_eval)
    # Other settings do not resume someone else's run.
    assert parse.main([*args[:-5], "3", *args[-4:]]) == 2
    assert "other settings" in capsys.readouterr().err
    assert parse.main(args) == 0
    text = capsys.readouterr().out
    assert "resuming from" in text and "epoch 2/2" in text and "epoch 1/2" not in text
    ckpt = torch.load(out, weights_only=True)
    assert ckpt["model"] == "PartParser" and ckpt["trained_on"]["options"]["seed"] == 3
    assert [h["epoch"] for h in ckpt["history"]] == [1, 2] and not partial.exists()
    assert isinstance(parse.load_parser(out), PartParser)


def test_evaluate_returns_ious_in_range(weights, tiny):
    result = parse.evaluate_parser(weights, "synth-tiny", parse.dataset_options(tiny))
    assert set(result["iou"]) == {"background", "head", "upper body", "lower body", "accessories"}
    assert all(v is None or 0.0 <= v <= 1.0 for v in result["iou"].values())
    assert 0.0 <= result["mean_iou"] <= 1.0 and 0.0 <= result["pixel_accuracy"] <= 1.0
    ds = open_dataset("synth-tiny", **parse.dataset_options(tiny))
    assert result["images"] == len(ds.query) + len(ds.gallery)


def test_masks_for_a_dataset_are_read_by_mask_source(weights, tiny, tmp_path, capsys):
    out = tmp_path / "parts"
    assert parse.main(["masks", "--weights", str(weights), "--dataset", "synth-tiny", "--dataset-options", tiny,
                       "--out", str(out)]) == 0
    assert "data.mask_root=" in capsys.readouterr().out
    ds = open_dataset("synth-tiny", **parse.dataset_options(tiny))
    source = MaskSource(ds.root, out)
    for r in (ds.train[0], ds.query[0], ds.gallery[-1]):
        labels = source.load(r.path, size=(128, 64))
        assert labels.dtype == np.uint8 and labels.max() < NUM_LABELS
    assert len(list(out.rglob("*.png"))) == len(ds.train) + len(ds.query) + len(ds.gallery)
    # Writing over the ground truth is refused.
    assert parse.main(["masks", "--weights", str(weights), "--dataset", "synth-tiny", "--dataset-options", tiny,
                       "--out", str(ds.root) + "/masks"]) == 2
    assert "ground-truth" in capsys.readouterr().err


def test_masks_for_an_image_folder(weights, tmp_path):
    from PIL import Image

    images = tmp_path / "ds" / "query"
    images.mkdir(parents=True)
    for i in range(3):  # real crops come in other sizes
        Image.fromarray(np.full((160, 60, 3), 60 * i, np.uint8)).save(images / f"000{i}_c1.jpg")
    (tmp_path / "ds" / "masks").mkdir()  # an existing mask tree holds no images to parse
    Image.fromarray(np.zeros((160, 60), np.uint8)).save(tmp_path / "ds" / "masks" / "0000_c1.png")
    out = tmp_path / "ds" / "parts"
    assert parse.main(["masks", "--weights", str(weights), "--images", str(tmp_path / "ds"), "--out", str(out)]) == 0
    assert MaskSource(tmp_path / "ds", out).load(images / "0001_c1.jpg", size=(160, 60)).shape == (160, 60)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png")) == [
        f"query/000{i}_c1.png" for i in range(3)]


def test_missing_or_foreign_weights_are_clear_errors(tmp_path, capsys):
    missing = tmp_path / "none.pt"
    with pytest.raises(FileNotFoundError, match="python -m reidlib.data.parse train --dataset synth-small --out"):
        parse.load_parser(missing)
    assert parse.main(["masks", "--weights", str(missing), "--images", str(tmp_path), "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "reidlib.data.parse train" in err
    torch.save({"model": "PersonSegmenter", "state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a PartParser checkpoint"):
        parse.load_parser(tmp_path / "other.pt")


def test_train_refuses_a_dataset_without_part_labels(capsys):
    assert parse.main(["train", "--dataset", "market1501", "--out", "x.pt"]) == 2
    assert "no ground-truth part labels" in capsys.readouterr().err


def test_cached_parts_are_made_once_and_shared_between_processes(tmp_path, monkeypatch):
    import threading

    import reidlib.paths
    from reidlib.engine import runlock

    monkeypatch.setattr(reidlib.paths, "REPO_ROOT", tmp_path)
    real_lock, calls = runlock.run_lock, []
    monkeypatch.setattr(runlock, "run_lock", lambda *a, **k: real_lock(*a, **{**k, "poll": 0.02}))

    def fake_main(argv):
        calls.append(argv[0])
        out = tmp_path / ".cache" / "parser" / ("synth-tiny-3ep.pt" if argv[0] == "train" else "masks-synth-tiny-3ep")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.touch() if argv[0] == "train" else out.mkdir()
        print(f"{argv[0]} done")
        return 0

    monkeypatch.setattr(parse, "main", fake_main)
    folder = tmp_path / ".cache" / "parser"
    got = []
    with real_lock(folder, name="synth-tiny-3ep.lock"):  # another process is making them
        waiter = threading.Thread(target=lambda: got.append(parse.cached_parts("synth-tiny", 3)))
        waiter.start()
        waiter.join(0.2)
        assert waiter.is_alive() and calls == []  # it waits rather than train a second parser
    waiter.join(5)
    assert calls == ["train", "masks"]
    assert got == [(folder / "synth-tiny-3ep.pt", folder / "masks-synth-tiny-3ep")]
    assert (folder / "masks-synth-tiny-3ep" / "complete").exists()
    assert parse.cached_parts("synth-tiny", 3) == got[0] and calls == ["train", "masks"]  # made once

    monkeypatch.setattr(parse, "main", lambda argv: print("no such dataset") or 2)
    with pytest.raises(RuntimeError, match="(?s)parse train --dataset synth-tiny --out .*failed:\nno such dataset"):
        parse.cached_parts("synth-tiny", 5)

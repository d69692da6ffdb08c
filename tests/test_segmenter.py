"""The person segmenter: model, Penn-Fudan parsing and crops, checkpoints, mask writing."""

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from reidlib.data import segment
from reidlib.data.masks import MaskSource
from reidlib.data.segmenter import (
    INPUT_SIZE,
    WEIGHTS,
    PersonSegmenter,
    iou,
    load_scene,
    load_segmenter,
    pennfudan_pedestrians,
    reid_crop,
    split_scenes,
)
from reidlib.paths import REPO_ROOT


def fake_pennfudan(root, scenes=5):
    """Penn-Fudan's layout with scenes of one or two rectangular 'pedestrians'."""
    for d in ("PNGImages", "PedMasks", "Annotation"):
        (root / d).mkdir(parents=True)
    for s in range(scenes):
        img = np.full((120, 160, 3), 90, np.uint8)
        mask = np.zeros((120, 160), np.uint8)
        boxes = [(20, 10, 49, 99), (100, 20, 129, 109)][: 1 + s % 2]
        lines = []
        for k, (x0, y0, x1, y1) in enumerate(boxes, start=1):
            img[y0:y1 + 1, x0:x1 + 1] = (200, 30 * k, 40)
            mask[y0:y1 + 1, x0:x1 + 1] = k
            lines.append(f'Bounding box for object {k} "PASpersonWalking" (Xmin, Ymin) - (Xmax, Ymax) : '
                         f"({x0 + 1}, {y0 + 1}) - ({x1 + 1}, {y1 + 1})")
        Image.fromarray(img).save(root / "PNGImages" / f"Scene{s:05d}.png")
        Image.fromarray(mask).save(root / "PedMasks" / f"Scene{s:05d}_mask.png")
        (root / "Annotation" / f"Scene{s:05d}.txt").write_text("\n".join(lines) + "\n")
    return root


def test_model_shapes():
    out = PersonSegmenter(width=4)(torch.zeros(2, 3, *INPUT_SIZE))
    assert out.shape == (2, 1, *INPUT_SIZE)


def test_pennfudan_parsing_split_and_crops(tmp_path):
    scenes = pennfudan_pedestrians(fake_pennfudan(tmp_path))
    assert len(scenes) == 5 and sum(len(p) for p in scenes.values()) == 7
    ped = scenes["Scene00001"][1]
    assert ped.instance == 2 and ped.box == (100, 20, 129, 109)
    train, held = split_scenes(scenes, holdout=0.4, seed=0)
    assert len(held) == 2 and not set(train) & set(held)
    image, mask = load_scene(ped)
    crop, fg = reid_crop(image, mask, ped, rng=None, margin=0.1)
    assert crop.shape == (3, *INPUT_SIZE) and fg.shape == INPUT_SIZE
    # The evaluation crop centres the person with a 10 % margin: foreground fills the middle.
    assert 0.4 < float(fg.mean()) < 0.8 and fg[INPUT_SIZE[0] // 2, INPUT_SIZE[1] // 2] == 1
    # The other pedestrian of the scene is background in this crop.
    _, fg0 = reid_crop(image, mask, scenes["Scene00001"][0], rng=np.random.default_rng(0))
    assert fg0.sum() > 0


def test_missing_pennfudan_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="lacks PNGImages, PedMasks, Annotation"):
        pennfudan_pedestrians(tmp_path)


def test_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="reidlib.data.segment train"):
        load_segmenter(tmp_path / "none.pt")
    torch.save({"model": "ResNet50", "state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a PersonSegmenter checkpoint"):
        load_segmenter(tmp_path / "other.pt")


def test_iou():
    a = torch.tensor([[True, True], [False, False]])
    b = torch.tensor([[True, False], [True, False]])
    assert iou(a, b) == pytest.approx(1 / 3) and iou(a & False, b & False) == 1.0


def test_training_resumes_after_an_interruption_and_writes_masks(tmp_path, capsys, monkeypatch):
    pf = fake_pennfudan(tmp_path / "pf", scenes=6)
    out = tmp_path / "seg.pt"
    args = ["train", "--pennfudan", str(pf), "--out", str(out), "--epochs", "2", "--width", "4", "--batch", "4",
            "--holdout", "0.34"]
    real_eval, calls = segment.evaluate_segmenter, []

    def interrupted(*a):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the session ends during the second epoch's validation
        return real_eval(*a)

    monkeypatch.setattr(segment, "evaluate_segmenter", interrupted)
    with pytest.raises(KeyboardInterrupt):
        segment.main(args)
    assert out.with_suffix(".partial.pt").exists() and not out.exists()
    monkeypatch.setattr(segment, "evaluate_segmenter", real_eval)
    assert segment.main(args) == 0
    assert "resuming from" in capsys.readouterr().out
    ckpt = torch.load(out, weights_only=True)
    assert ckpt["model"] == "PersonSegmenter" and len(ckpt["held_out_scenes"]) == 2
    assert 0.0 <= ckpt["held_out_iou"]["iou"] <= 1.0 and not out.with_suffix(".partial.pt").exists()
    # Masks for every image under a folder, mirrored.
    images = tmp_path / "ds" / "query"
    images.mkdir(parents=True)
    for i in range(3):
        Image.fromarray(np.full((160, 60, 3), 60 * i, np.uint8)).save(images / f"000{i}_c1.png")
    assert segment.main(["masks", "--images", str(tmp_path / "ds"), "--out", str(tmp_path / "ds" / "masks"),
                         "--weights", str(out)]) == 0
    assert MaskSource(tmp_path / "ds").load(images / "0001_c1.png", size=(160, 60)).shape == (160, 60)


def test_deeplab_backend_names_the_missing_weights(tmp_path, capsys):
    (tmp_path / "ds").mkdir()
    Image.fromarray(np.zeros((16, 8, 3), np.uint8)).save(tmp_path / "ds" / "a.png")
    code = segment.main(["masks", "--images", str(tmp_path / "ds"), "--out", str(tmp_path / "m"),
                         "--backend", "deeplabv3", "--weights", str(tmp_path / "missing.pth")])
    assert code == 2 and "deeplabv3_resnet50_coco-cd0a2569.pth" in capsys.readouterr().err


PENNFUDAN = Path(os.environ.get("REID_SHARED_DATA", REPO_ROOT.parent / "shared" / "data")) / "PennFudanPed"


def test_shipped_weights_load_and_record_their_held_out_scenes():
    ckpt = torch.load(WEIGHTS, weights_only=True)
    assert ckpt["trained_on"] == "Penn-Fudan" and len(ckpt["held_out_scenes"]) == 34
    assert isinstance(load_segmenter(WEIGHTS), PersonSegmenter)


@pytest.mark.skipif(not PENNFUDAN.is_dir(), reason=f"Penn-Fudan not found at {PENNFUDAN} (set REID_SHARED_DATA)")
def test_shipped_weights_segment_held_out_pedestrians():
    ckpt = torch.load(WEIGHTS, weights_only=True)
    scenes = pennfudan_pedestrians(PENNFUDAN)
    crops, masks = segment._eval_crops(scenes, ckpt["held_out_scenes"][:10])
    assert segment.evaluate_segmenter(load_segmenter(WEIGHTS), crops, masks)["iou"] > 0.7


def test_deeplab_backend_refuses_another_models_weights(tmp_path):
    torch.save(PersonSegmenter(4).state_dict(), tmp_path / "not_deeplab.pth")
    with pytest.raises(ValueError, match="not a DeepLabV3-ResNet50 checkpoint"):
        segment.DeepLabPerson(str(tmp_path / "not_deeplab.pth"))


def test_cached_masks_are_written_once_while_another_process_waits(tmp_path, monkeypatch):
    import threading

    import reidlib.paths
    from reidlib.engine import runlock

    images = tmp_path / "dataset"
    images.mkdir()
    for name in ("a.png", "b.png"):
        (images / name).touch()
    monkeypatch.setattr(reidlib.paths, "REPO_ROOT", tmp_path)
    real_lock, written = runlock.run_lock, []
    monkeypatch.setattr(runlock, "run_lock", lambda *a, **k: real_lock(*a, **{**k, "poll": 0.02}))
    monkeypatch.setattr(segment, "load_segmenter", lambda weights: None)
    monkeypatch.setattr(segment, "segment_into", lambda model, files, root, out, progress: written.extend(files) or [])
    out = tmp_path / ".cache" / "masks" / "mine"
    got = []
    with real_lock(out, name="write.lock"):  # another process is writing the tree
        waiter = threading.Thread(target=lambda: got.append(segment.cached_masks(images, "mine")))
        waiter.start()
        waiter.join(0.2)
        assert waiter.is_alive() and written == []
    waiter.join(5)
    assert got == [out] and sorted(p.name for p in written) == ["a.png", "b.png"]
    assert (out / "complete").read_text().startswith("2 masks of")
    assert segment.cached_masks(images, "mine") == out and len(written) == 2  # written once

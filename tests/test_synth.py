"""SynthReID: determinism, layout, masks, background sharing, scene families, the cache."""

import hashlib
import importlib
import itertools
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reidlib.data import MaskSource, load_dataset
from reidlib.data.synth import PRESETS, ensure, generate, make_config
from reidlib.data.synth.presets import parse_overrides

gen_module = importlib.import_module("reidlib.data.synth.generate")  # the module, not the function

# A smaller tiny for the tests that only need a few people.
FEW = dict(num_train_ids=3, num_test_ids=3, num_distractor_images=2, num_junk_images=2)


def file_hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("tiny") / "a", "tiny", seed=0, progress=False)


def test_same_seed_same_bytes_other_seed_differs(tiny, tmp_path):
    again = generate(tmp_path / "b", "tiny", seed=0, progress=False, workers=2)  # worker count must not matter
    assert file_hashes(tiny) == file_hashes(again)
    other = generate(tmp_path / "c", "tiny", seed=1, progress=False, **FEW)
    ref = generate(tmp_path / "d", "tiny", seed=0, progress=False, **FEW)
    assert file_hashes(other) != file_hashes(ref)


def test_folder_reader_reads_it(tiny):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = load_dataset("folder", tiny)
    cfg = PRESETS["tiny"]
    assert ds.num_train_pids == cfg.num_train_ids
    assert len({r.pid for r in ds.query}) == cfg.num_test_ids
    gallery_pids = {r.pid for r in ds.gallery}
    assert {-1, 0} <= gallery_pids
    assert sum(r.pid == -1 for r in ds.gallery) == cfg.num_junk_images
    assert sum(r.pid == 0 for r in ds.gallery) == cfg.num_distractor_images
    # One query per test identity and camera, each with a gallery match in another camera.
    assert len({(r.pid, r.camid) for r in ds.query}) == len(ds.query)
    for q in ds.query:
        assert any(g.pid == q.pid and g.camid != q.camid for g in ds.gallery), q
    assert not {r.pid for r in ds.query} & {r.pid for r in ds.train}
    total = len(ds.train) + len(ds.query) + len(ds.gallery)
    assert 200 <= total <= 450
    meta = json.loads((tiny / "meta.json").read_text())
    assert len(meta["images"]["path"]) == total
    assert meta["config"] == make_config("tiny").to_dict()


def test_every_image_has_a_fitting_mask(tiny):
    masks = MaskSource(tiny)
    ds = load_dataset("folder", tiny)
    for record in ds.train + ds.query + ds.gallery:
        with Image.open(record.path) as im:
            w, h = im.size
        labels = masks.load(record.path, size=(h, w))
        assert labels.max() <= 4
        fg = (labels > 0).mean()
        assert fg > 0.02, record.path
        if record.pid != -1:  # a real detection shows a good part of the person, upper and lower body
            assert fg > 0.1 and {2, 3} <= set(np.unique(labels).tolist()), record.path


def background_correlation(root: Path) -> float:
    """Mean pixel correlation of the shared background of two images of one person, from different tracklets."""
    im = json.loads((root / "meta.json").read_text())["images"]
    groups: dict = {}
    for i, path in enumerate(im["path"]):
        if not im["junk"][i]:
            groups.setdefault((im["unit"][i], im["camid"][i]), {}).setdefault(im["tracklet"][i], path)

    def grey_and_background(rel):
        grey = np.asarray(Image.open(root / rel).convert("L"), np.float32)
        return grey, np.asarray(Image.open((root / "masks" / rel).with_suffix(".png"))) == 0

    cors = []
    for tracks in groups.values():
        for a, b in itertools.combinations(sorted(tracks.values()), 2):
            (ga, ma), (gb, mb) = grey_and_background(a), grey_and_background(b)
            both = ma & mb
            cors.append(np.corrcoef(ga[both], gb[both])[0, 1])
    assert len(cors) > 20
    return float(np.mean(cors))


def test_bg_share_controls_shared_background(tmp_path):
    kw = dict(progress=False, tracklets_per_camera=(2, 2), num_distractor_images=0, num_junk_images=0)
    shared = background_correlation(generate(tmp_path / "one", "tiny", bg_share=1.0, **kw))
    independent = background_correlation(generate(tmp_path / "zero", "tiny", bg_share=0.0, **kw))
    assert shared > independent + 0.1, (shared, independent)


def test_scene_families_share_no_scene(tiny, tmp_path):
    other = generate(tmp_path / "b", "tiny", progress=False, scene_family="B", **FEW)
    scenes = [json.loads((root / "meta.json").read_text())["cameras"] for root in (tiny, other)]
    ids = [{c["scene"]["scene_id"] for c in cams} for cams in scenes]
    textures = [{c["scene"]["wall"] for c in cams} | {c["scene"]["ground"] for c in cams} for cams in scenes]
    assert not ids[0] & ids[1]
    assert not textures[0] & textures[1]


def test_unknown_options_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="valid options are: num_train_ids"):
        generate(tmp_path, "tiny", progress=False, bg_shared=0.5)
    with pytest.raises(ValueError, match="valid options"):
        ensure("tiny", cache_dir=tmp_path, colour=1)
    with pytest.raises(ValueError, match="unknown SynthReID preset"):
        generate(tmp_path, "huge", progress=False)
    with pytest.raises(ValueError, match="bg_share"):
        make_config("tiny", bg_share=1.5)
    assert parse_overrides(["bg_share=0.8", "images_per_tracklet=2,6", "scene_family=B"]) == {
        "bg_share": 0.8, "images_per_tracklet": (2, 6), "scene_family": "B"}


def test_generate_refuses_to_mix_with_an_existing_dataset(tmp_path):
    generate(tmp_path, "tiny", progress=False, **FEW)
    with pytest.raises(FileExistsError):
        generate(tmp_path, "tiny", progress=False, **FEW)
    generate(tmp_path, "tiny", progress=False, overwrite=True, **FEW)


def test_ensure_reuses_complete_and_regenerates_incomplete(tmp_path, monkeypatch):
    root = ensure("tiny", cache_dir=tmp_path, progress=False, **FEW)
    assert (root / gen_module.COMPLETE_MARKER).is_file()
    before = file_hashes(root)

    def no_generation(*args, **kwargs):
        raise AssertionError("a complete cache must be reused")

    with monkeypatch.context() as m:
        m.setattr(gen_module, "generate", no_generation)
        assert ensure("tiny", cache_dir=tmp_path, progress=False, **FEW) == root
    # Another config lands in another folder.
    assert ensure("tiny", cache_dir=tmp_path, progress=False, **{**FEW, "bg_share": 0.9}) != root
    # An interrupted generation (no marker, a stray file) is thrown away and redone.
    (root / gen_module.COMPLETE_MARKER).unlink()
    (root / "query" / "stray.jpg").write_bytes(b"partial")
    assert ensure("tiny", cache_dir=tmp_path, progress=False, **FEW) == root
    assert file_hashes(root) == before


def test_ensure_generates_once_while_another_process_waits(tmp_path, monkeypatch):
    import threading

    from reidlib.engine import runlock

    real_lock, made = runlock.run_lock, []
    monkeypatch.setattr(runlock, "run_lock", lambda *a, **k: real_lock(*a, **{**k, "poll": 0.02}))

    def fake_generate(out, *args, **kwargs):  # what the real generator leaves: a folder of images
        made.append(out)
        (Path(out) / "query").mkdir(parents=True)

    monkeypatch.setattr(gen_module, "generate", fake_generate)
    key = gen_module.config_key(make_config("tiny", **FEW), 0)[:12]
    got = []
    with real_lock(tmp_path, name=f"tiny-s0-{key}.lock"):  # another process is generating it
        waiter = threading.Thread(target=lambda: got.append(ensure("tiny", cache_dir=tmp_path, progress=False, **FEW)))
        waiter.start()
        waiter.join(0.3)
        assert waiter.is_alive() and made == []  # it waits rather than generate into the same folder
        # the other process finishes: its folder is complete
        (tmp_path / f"tiny-s0-{key}" / "query").mkdir(parents=True)
        (tmp_path / f"tiny-s0-{key}" / gen_module.COMPLETE_MARKER).write_text("done\n")
    waiter.join(5)
    assert got == [tmp_path / f"tiny-s0-{key}"] and made == []  # reused what the other wrote
    assert (tmp_path / f"tiny-s0-{key}" / "query").is_dir()


def test_colour_histograms_of_arrays_equal_those_of_files(tmp_path):
    import numpy as np
    from PIL import Image

    from reidlib.eval.color_histogram import color_histogram_features

    img = (np.arange(32 * 16 * 3) % 251).astype(np.uint8).reshape(32, 16, 3)
    Image.fromarray(img).save(tmp_path / "a.png")
    from_file = color_histogram_features([tmp_path / "a.png"])
    from_array = color_histogram_features([img])
    assert from_file.shape == from_array.shape and bool((from_file == from_array).all())


def test_video_view_groups_frames_into_tracklets_under_the_mars_protocol(tiny):
    from reidlib.data.synth.video import video_view

    images = load_dataset("folder", tiny)
    video = video_view(images)
    assert video.is_video and not images.is_video
    assert [r.path for r in video.train] == [r.path for r in images.train]  # training is unchanged
    # The gallery is every test frame; the query is the whole tracklets of the image queries.
    assert sorted(r.path for r in video.gallery) == sorted(r.path for r in images.query + images.gallery)
    by_path = {r.path: r for r in video.gallery}
    query_tracklets = {by_path[r.path].tracklet for r in images.query}
    assert {r.tracklet for r in video.query} == query_tracklets and len(query_tracklets) == len(images.query)
    for t in query_tracklets:  # a tracklet is one person in one camera, and has its frames in the gallery too
        frames = [r for r in video.gallery if r.tracklet == t]
        assert len({(r.pid, r.camid) for r in frames}) == 1
        assert len(frames) >= 1
    assert any(len([r for r in video.query if r.tracklet == t]) > 1 for t in query_tracklets)
    junk = [r for r in video.gallery if r.pid == -1]
    assert len({r.tracklet for r in junk}) == len(junk)  # junk crops are one-frame tracklets


def test_video_view_needs_a_generated_dataset(tmp_path):
    from reidlib.data.records import ReIDDataset
    from reidlib.data.synth.video import video_view

    with pytest.raises(ValueError, match="no meta.json"):
        video_view(ReIDDataset("x", str(tmp_path), [], [], []))

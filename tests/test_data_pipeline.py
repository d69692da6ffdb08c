"""Masks, joint image/mask transforms, background variants, P x K sampling, decoding."""

import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import tv_tensors

from reidlib.data.images import ImageReadError, find_images, read_image
from reidlib.data.loaders import ReIDImages, eval_loader, train_loader
from reidlib.data.masks import MaskError, MaskSource, parts_from_foreground, read_label_map, write_label_map
from reidlib.data.records import Record
from reidlib.data.samplers import IdentitySampler
from reidlib.data.transforms import (
    BackgroundPool,
    BackgroundVariant,
    GaussianWeight,
    RandomBackground,
    ToRGBM,
    background_only,
    build_transforms,
    mean_background,
    random_background,
)


def person_sample(h=32, w=16):
    """A red image with a green 'person' block in the middle, and its part mask."""
    img = torch.zeros(3, h, w)
    img[0] = 1.0
    mask = torch.zeros(h, w, dtype=torch.uint8)
    mask[8:24, 4:12] = 2
    img[:, 8:24, 4:12] = torch.tensor([0.0, 1.0, 0.0]).view(3, 1, 1)
    return {"image": tv_tensors.Image(img), "mask": tv_tensors.Mask(mask), "index": 3}


def write_dataset(root, n_ids=4, per_id=4, cams=2, size=(32, 16)):
    records = []
    for pid in range(n_ids):
        for k in range(per_id):
            path = root / "train" / f"{pid:04d}_c{k % cams}_{k}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.full((*size, 3), 40 * pid, np.uint8)).save(path)
            labels = np.zeros(size, np.uint8)
            labels[4:28, 4:12] = 2
            write_label_map(root / "masks" / "train" / path.name, labels)
            records.append(Record(str(path), pid, k % cams))
    return records


def test_label_maps_round_trip_and_reject_bad_labels(tmp_path):
    labels = np.arange(20, dtype=np.uint8).reshape(4, 5) % 5
    write_label_map(tmp_path / "a" / "m.png", labels)
    assert np.array_equal(read_label_map(tmp_path / "a" / "m.png"), labels)
    Image.fromarray(np.full((4, 5), 9, np.uint8)).save(tmp_path / "bad.png")
    with pytest.raises(MaskError, match="label 9"):
        read_label_map(tmp_path / "bad.png")
    with pytest.raises(MaskError):
        write_label_map(tmp_path / "x.png", labels + 5)


def test_mask_source_mirrors_the_image_tree(tmp_path):
    records = write_dataset(tmp_path)
    source = MaskSource(tmp_path)
    assert source.path_for(records[0].path) == tmp_path / "masks" / "train" / "0000_c0_0.png"
    assert source.load(records[0].path, size=(32, 16)).max() == 2
    with pytest.raises(MaskError, match="but its image is"):
        source.load(records[0].path, size=(64, 32))
    (tmp_path / "masks" / "train" / "0000_c0_0.png").unlink()
    with pytest.raises(MaskError, match="missing mask"):
        source.load(records[0].path)
    with pytest.raises(MaskError, match="not under the dataset folder"):
        source.path_for("/elsewhere/x.jpg")
    with pytest.raises(MaskError, match="reidlib.data.segment masks"):
        MaskSource(tmp_path / "train")


def test_parts_from_foreground_split_by_height():
    fg = np.zeros((20, 5), bool)
    fg[0:20, 1:4] = True
    labels = parts_from_foreground(fg, head=0.15, upper=0.5)
    assert set(labels[0:3, 2]) == {1} and set(labels[3:10, 2]) == {2} and set(labels[10:, 2]) == {3}
    assert labels[:, 0].max() == 0
    assert parts_from_foreground(np.zeros((4, 4), bool)).max() == 0


def test_background_variants():
    s = person_sample()
    fg = s["mask"] > 0
    mean = (0.5, 0.5, 0.5)
    mb = mean_background(s["image"], fg, mean)
    assert torch.equal(mb[:, 10, 6], torch.tensor([0.0, 1.0, 0.0])) and torch.allclose(mb[:, 0, 0], torch.tensor(0.5))
    bo = background_only(s["image"], fg, mean)
    assert torch.allclose(bo[:, 10, 6], torch.tensor(0.5)) and torch.equal(bo[:, 0, 0], torch.tensor([1.0, 0, 0]))
    rb = random_background(s["image"], fg, torch.full((3, 32, 16), 0.25))
    assert torch.allclose(rb[:, 0, 0], torch.tensor(0.25)) and torch.equal(rb[:, 10, 6], s["image"][:, 10, 6])
    with pytest.raises(ValueError, match="background is"):
        random_background(s["image"], fg, torch.zeros(3, 8, 8))
    mo = BackgroundVariant("mask_only")(s)["image"]  # MGCAM's "Mask" input: the mask in every channel
    assert torch.equal(mo[:, 10, 6], torch.ones(3)) and torch.equal(mo[:, 0, 0], torch.zeros(3))


def scene_folder(root, colours=((200, 200, 200), (30, 30, 30))):
    """A pool folder of uniform scenes, one per colour (60 x 90)."""
    root.mkdir(parents=True, exist_ok=True)
    for i, colour in enumerate(colours):
        Image.fromarray(np.full((60, 90, 3), colour, np.uint8)).save(root / f"scene{i}.png")
    return root


def test_background_pool_and_random_background(tmp_path):
    pool = BackgroundPool(scene_folder(tmp_path / "pool"))
    assert len(pool) == 2 and len(pool.part("train")) == len(pool.part("test")) == 1
    for part in ("train", "test"):
        crop = pool.sample(32, 16, part=part)
        colour = pool.images[pool.part(part)[0]][0, 0, 0] / 255
        assert crop.shape == (3, 32, 16) and torch.allclose(crop, colour.float().expand(3, 32, 16), atol=1e-5)
    variant = BackgroundVariant("random_background", pool, seed=1)
    sample = {**person_sample(), "split": "query", "path": "query/0001_c0_0.png"}
    a, b = variant(sample), variant(dict(sample))
    assert torch.equal(a["image"], b["image"])  # seeded by split and path: test sets are fixed
    always = RandomBackground(pool, p=1.0)(person_sample())
    assert float(always["image"][0, 0, 0]) < 0.9  # the red background is gone
    never = RandomBackground(pool, p=0.0)(person_sample())
    assert torch.equal(never["image"], person_sample()["image"])
    with pytest.raises(KeyError, match="needs the sample's split and path"):
        variant(person_sample())  # an index alone no longer seeds a background
    with pytest.raises(KeyError, match="needs the sample's split"):
        variant({**person_sample(), "path": "query/x.png"})
    with pytest.raises(ValueError, match="needs a BackgroundPool"):
        BackgroundVariant("random_background")
    with pytest.raises(ValueError, match="unknown background variant"):
        BackgroundVariant("blurred")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        BackgroundPool(tmp_path / "none")
    one = BackgroundPool(scene_folder(tmp_path / "one", colours=((9, 9, 9),)))
    assert one.sample(32, 16).shape == (3, 32, 16)  # training draws from a pool of one image
    with pytest.raises(ValueError, match="no test part"):
        one.sample(32, 16, part="test")


def random_background_sets(records, pool, splits=("query", "gallery"), root=None):
    """``records`` served as each of ``splits`` through the random-background test transform (masks under root)."""
    tf = build_transforms(32, 16, train=False, background="random_background", background_pool=pool, normalize=False)
    return {s: ReIDImages(records, tf, MaskSource(root), split=s) for s in splits}


def test_query_and_gallery_images_at_one_index_get_different_backgrounds(tmp_path):
    records = write_dataset(tmp_path, n_ids=4, per_id=2)
    pool = BackgroundPool([torch.randint(0, 256, (3, 60, 90), dtype=torch.uint8, generator=torch.Generator()
                                         .manual_seed(i)) for i in range(4)])
    tf = build_transforms(32, 16, train=False, background="random_background", background_pool=pool, normalize=False)
    query = ReIDImages(records[:4], tf, MaskSource(tmp_path), split="query")
    gallery = ReIDImages(records[4:], tf, MaskSource(tmp_path), split="gallery")
    corner = (slice(None), slice(0, 4), slice(None))  # rows 0-3 are background in every image
    for i in range(4):
        assert not torch.equal(query[i]["image"][corner], gallery[i]["image"][corner])
    # the same image in two splits (a video gallery holds its queries) gets two backgrounds too
    sets = random_background_sets(records, pool, root=tmp_path)
    assert not torch.equal(sets["query"][0]["image"][corner], sets["gallery"][0]["image"][corner])
    # an image's background depends on its split and path, not on its position in the list
    reordered = ReIDImages(records[:4][::-1], tf, MaskSource(tmp_path), split="query")
    for i in range(4):
        assert reordered[3 - i]["path"] == query[i]["path"] == f"train/{Path(records[i].path).name}"
        assert torch.equal(reordered[3 - i]["image"], query[i]["image"])


def recording_crops(pool, monkeypatch):
    """Every (pool index, box, crop bytes) that ``pool`` cuts from now on."""
    cuts = []
    crop = pool.crop

    def recorded(index, box, height, width):
        out = crop(index, box, height, width)
        cuts.append((index, tuple(box), hashlib.sha1(out.numpy().tobytes()).hexdigest()))
        return out

    monkeypatch.setattr(pool, "crop", recorded)
    return cuts


def test_no_two_test_images_share_a_background_crop(monkeypatch):
    from reidlib.engine import make_config
    from reidlib.engine.data import background_pool, build_run_data, open_run_dataset

    cfg = make_config("ide", "ci", "synth-tiny", overrides=["data.test_background=random_background",
                                                            "data.background_pool=synth-scenes:C",
                                                            "data.height=32", "data.width=16", "data.num_workers=0"])
    pool = background_pool("synth-scenes:C")
    assert pool.parts == {"train": list(range(50)), "test": list(range(50, 100))}  # the 100 scenes, half and half
    run = build_run_data(cfg, open_run_dataset(cfg), model_needs=())
    cuts = recording_crops(pool, monkeypatch)
    paths = {(s, run_set.dataset[i]["path"]) for s, run_set in (("query", run.query), ("gallery", run.gallery))
             for i in range(len(run_set.dataset))}
    n = len(run.query.dataset) + len(run.gallery.dataset)
    assert len(cuts) == n == len(paths) and len({(i, box) for i, box, _ in cuts}) == n
    assert len({pixels for _, _, pixels in cuts}) == n  # no two test images share a crop's pixels
    assert {i for i, _, _ in cuts} <= set(pool.part("test"))
    assert all(not p.startswith("/") for _, p in paths)  # paths under the dataset folder: the same in every clone


def test_test_backgrounds_come_from_a_part_of_the_pool_training_never_sees(tmp_path):
    colours = [(40 * i, 255 - 40 * i, 100) for i in range(6)]
    pool = BackgroundPool(scene_folder(tmp_path / "pool", colours))
    train_part, test_part = pool.part("train"), pool.part("test")
    assert len(train_part) == len(test_part) == 3 and sorted(train_part + test_part) == list(range(6))
    # split by the files' names: the same parts whatever the listing order, and in any folder
    files = sorted((tmp_path / "pool").iterdir())
    by_name = BackgroundPool(files[::-1])
    assert {files[::-1][i].name for i in by_name.part("test")} == {files[i].name for i in test_part}
    tensors = BackgroundPool([torch.zeros(3, 8, 8, dtype=torch.uint8)] * 5)
    assert tensors.parts == {"train": [0, 1, 2], "test": [3, 4]}  # decoded scenes: by position, last half held out

    def colour_of(image):  # the colour of the top-left background pixel (uniform scenes)
        return tuple(int(c) for c in (image[:, 0, 0] * 255).round())

    held_out = {colours[int(files[i].stem[5:])] for i in test_part}
    seen = set(colours) - held_out
    records = write_dataset(tmp_path / "data", n_ids=4, per_id=4)
    sets = random_background_sets(records, pool, ("query", "gallery", "train"), root=tmp_path / "data")
    for split in ("query", "gallery"):
        assert {colour_of(sets[split][i]["image"]) for i in range(len(records))} <= held_out
    # the training variant (data.background=random_background) and the augmentation draw from the training part
    assert {colour_of(sets["train"][i]["image"]) for i in range(len(records))} <= seen
    torch.manual_seed(0)
    augment = RandomBackground(pool, p=1.0)
    assert {colour_of(augment(person_sample())["image"]) for _ in range(60)} == seen


def test_rgbm_and_gaussian_weight():
    s = ToRGBM()(person_sample())
    assert s["image"].shape == (4, 32, 16) and s["image"][3].sum() == 16 * 8
    g = GaussianWeight(0.5)(person_sample())
    w = GaussianWeight.weight(32, 16, 0.5)
    assert g["target"].shape == (3, 32, 16) and w.max() <= 1 and w[16, 8] > w[0, 0]
    with pytest.raises(KeyError, match="mask"):
        ToRGBM()({"image": person_sample()["image"]})


def test_pipeline_moves_mask_with_image():
    torch.manual_seed(0)
    t = build_transforms(64, 32, train=True, flip_p=1.0, pad=0, erasing_p=0.0, normalize=False)
    s = person_sample()
    s["image"][:, 8:24, 4:8] = 0.3  # the left half of the person is grey: a flip must move it right
    out = t(s)
    assert out["image"].shape == (3, 64, 32) and out["mask"].shape == (64, 32)
    fg = out["mask"] > 0
    assert fg.any() and torch.equal(fg, out["mask"].flip(-1).flip(-1) > 0)
    grey = (out["image"][1] - 0.3).abs() < 0.05
    assert grey[:, 16:].sum() > 0 and grey[:, :16].sum() == 0
    assert (out["mask"][grey] > 0).all()


def test_pipeline_normalises_and_keeps_rgbm_mask_binary():
    t = build_transforms(32, 16, train=False, rgbm=True)
    out = t(person_sample())
    assert out["image"].shape == (4, 32, 16)
    assert set(out["image"][3].unique().tolist()) == {0.0, 1.0}
    assert out["image"][:3].min() < 0  # normalised


def test_identity_sampler_balances_identities_and_cameras():
    pids = [0] * 6 + [1] * 2 + [2] * 4 + [3] * 5
    cams = [0, 0, 0, 0, 1, 2] + [0, 0] + [0, 1, 0, 1] + [2, 2, 2, 2, 2]
    s = IdentitySampler(pids, cams, batch_size=8, num_instances=4, seed=0)
    order = list(s)
    assert len(order) == len(s) == 16
    batches = [order[i:i + 8] for i in range(0, 16, 8)]
    for b in batches:
        assert sorted(Counter(pids[i] for i in b).values()) == [4, 4]
    for pid, want_cams in ((0, 3), (2, 2)):
        chosen = [i for i in order if pids[i] == pid]
        assert len({cams[i] for i in chosen}) == want_cams  # spread over every camera
    s.set_epoch(1)
    assert list(s) != order
    s.set_epoch(0)
    assert list(s) == order
    with pytest.raises(ValueError, match="multiple of num_instances"):
        IdentitySampler(pids, cams, batch_size=6, num_instances=4)
    with pytest.raises(ValueError, match="cannot fill"):
        IdentitySampler(pids, cams, batch_size=40, num_instances=4)


def test_dataset_and_loaders(tmp_path):
    records = write_dataset(tmp_path)
    ds = ReIDImages(records, build_transforms(32, 16, train=True), MaskSource(tmp_path))
    batch = next(iter(train_loader(ds, batch_size=8, num_instances=2, num_workers=0)))
    assert batch["image"].shape == (8, 3, 32, 16) and batch["mask"].shape == (8, 32, 16)
    assert sorted(Counter(batch["pid"].tolist()).values()) == [2, 2, 2, 2]
    plain = ReIDImages(records, build_transforms(32, 16, train=False))
    first = next(iter(eval_loader(plain, batch_size=5, num_workers=0)))
    assert first["index"].tolist() == [0, 1, 2, 3, 4] and "mask" not in first


def test_unreadable_images_are_reported_by_path(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(ImageReadError, match="broken.jpg"):
        read_image(str(bad))
    with pytest.raises(ImageReadError, match="missing image"):
        read_image(str(tmp_path / "nothing.png"))
    Image.fromarray(np.zeros((4, 3, 3), np.uint8)).save(tmp_path / "x.bmp")
    assert read_image(str(tmp_path / "x.bmp")).shape == (3, 4, 3)


def test_find_images_walks_the_tree_and_leaves_mask_trees_out(tmp_path):
    for rel in ("a/1.jpg", "a/b/2.PNG", "3.bmp", "masks/a/1.png", "out/x.png"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (4, 8)).save(tmp_path / rel, format="PNG")
    (tmp_path / "readme.txt").write_text("not an image")
    (tmp_path / "folder.jpg").mkdir()  # a folder named like an image is not one
    assert len(find_images(tmp_path)) == 5
    found = [p.relative_to(tmp_path).as_posix() for p in find_images(tmp_path, skip=(tmp_path / "masks", tmp_path / "out"))]
    assert found == ["3.bmp", "a/1.jpg", "a/b/2.PNG"]


def test_variant_pictures_are_uint8_at_the_image_size(tmp_path):
    from reidlib.data.transforms import variant_pictures

    records = write_dataset(tmp_path, n_ids=1, per_id=2)
    pics = list(variant_pictures(records, MaskSource(tmp_path), "background_only"))
    assert len(pics) == 2 and pics[0].shape == (32, 16, 3) and pics[0].dtype == np.uint8
    # the person (rows 4-27, columns 4-11) is the mean colour now, the background untouched
    assert tuple(pics[0][10, 6]) == tuple(round(255 * m) for m in (0.485, 0.456, 0.406))
    assert tuple(pics[0][0, 0]) == (0, 0, 0)


def test_one_image_per_camera_keeps_the_first_of_each_camera_in_camera_order():
    from reidlib.data.records import one_image_per_camera

    recs = [Record("a", 1, 2), Record("b", 1, 0), Record("c", 2, 1), Record("d", 1, 2), Record("e", 1, 0)]
    assert [r.path for r in one_image_per_camera(recs, 1)] == ["b", "a"]
    assert one_image_per_camera(recs, 9) == []

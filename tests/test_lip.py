"""LIP parsing maps as study part labels (reidlib.data.lip): grouping, converter, missing maps, real release."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reidlib.data import lip
from reidlib.data.lip import LIP_CLASSES, LipMaskSource, lip_to_study, write_market_parsing_masks
from reidlib.data.masks import MaskError, MaskSource, read_label_map
from reidlib.paths import REPO_ROOT

H, W = 128, 64
# A standing person in LIP classes: (rows, cols, LIP class); later entries paint over earlier ones.
PERSON = [
    ((8, 14), (24, 40), 2),     # hair
    ((14, 24), (26, 38), 13),   # face
    ((24, 64), (20, 44), 5),    # upper clothes
    ((26, 60), (14, 20), 14),   # left arm
    ((26, 60), (44, 50), 15),   # right arm
    ((64, 112), (22, 42), 9),   # pants
    ((112, 120), (22, 31), 18),  # left shoe
    ((112, 120), (33, 42), 19),  # right shoe
]
# The same person in study labels, written out by hand: head 1, upper body 2, lower body 3.
STUDY = [((8, 14), (24, 40), 1), ((14, 24), (26, 38), 1),
         ((24, 64), (20, 44), 2), ((26, 60), (14, 20), 2), ((26, 60), (44, 50), 2),
         ((64, 112), (22, 42), 3), ((112, 120), (22, 31), 3), ((112, 120), (33, 42), 3)]


def paint(shapes, shift: int = 0) -> np.ndarray:
    out = np.zeros((H, W), np.uint8)
    for (r0, r1), (c0, c1), value in shapes:
        out[r0:r1, c0 + shift:c1 + shift] = value
    return out


def person_lip(shift: int = 0) -> np.ndarray:
    return paint(PERSON, shift)


def person_study(shift: int = 0) -> np.ndarray:
    return paint(STUDY, shift)


def person_image(pid: int, shift: int, rng: np.random.Generator) -> np.ndarray:
    """A (H, W, 3) photo of the person: noisy background, a colour per part and identity."""
    img = rng.integers(0, 256, (H, W, 3)).astype(np.uint8) // 2 + 40
    colours = {1: (230, 190, 160), 2: (40 + 20 * pid % 200, 60, 200), 3: (30, 30 + 15 * pid % 200, 60)}
    labels = person_study(shift)
    for k, c in colours.items():
        img[labels == k] = c
    return img


def fake_market_with_parsing(root: Path, ids: int = 10, without: tuple[str, ...] = ("0003_c3", "0007_c2")) -> dict:
    """A Market-1501 release (``ids`` x 3 training images, 2 test identities) and its LIP parsing folder.

    The training images whose name starts with an entry of ``without`` get no parsing map.
    Returns the paths and the names of the images without a map.
    """
    rng = np.random.default_rng(0)
    release, parsing = root / "Market-1501-v15.09.15", root / "parsing"
    missing = []
    for pid in range(1, ids + 1):
        for cam in (1, 2, 3):
            name = f"{pid:04d}_c{cam}s1_{100 * cam + pid:06d}_01"
            shift = (pid + cam) % 5 - 2
            path = release / "bounding_box_train" / f"{name}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(person_image(pid, shift, rng)).save(path, quality=95)
            if name.startswith(without):
                missing.append(f"bounding_box_train/{name}.jpg")
                continue
            (parsing / "bounding_box_train").mkdir(parents=True, exist_ok=True)
            Image.fromarray(person_lip(shift), mode="L").save(parsing / "bounding_box_train" / f"{name}.png")
    for folder, cams in (("query", (1,)), ("bounding_box_test", (2, 3))):
        for pid in (ids + 1, ids + 2):
            for cam in cams:
                path = release / folder / f"{pid:04d}_c{cam}s1_{100 * cam + pid:06d}_01.jpg"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(person_image(pid, 0, rng)).save(path, quality=95)
    return {"root": root, "release": release, "parsing": parsing, "missing": sorted(missing)}


# ---------------------------------------------------------------------------- the grouping

def test_every_lip_class_has_one_study_label():
    assert sorted(LIP_CLASSES) == list(range(20)) and set(lip.LIP_TO_STUDY) == set(LIP_CLASSES)
    names = {label: sorted(LIP_CLASSES[k] for k, v in lip.LIP_TO_STUDY.items() if v == label)
             for label in (0, 1, 2, 3, lip.SPLIT)}
    assert names[1] == ["face", "hair", "hat", "sunglasses"]
    assert names[2] == ["coat", "glove", "left arm", "right arm", "scarf", "upper clothes"]
    assert names[3] == ["left leg", "left shoe", "pants", "right leg", "right shoe", "skirt", "socks"]
    assert names[lip.SPLIT] == ["dress", "jumpsuits"] and names[0] == ["background"]


def test_a_person_converts_to_head_upper_and_lower_body():
    got = lip_to_study(person_lip())
    assert got.dtype == np.uint8 and np.array_equal(got, person_study())
    assert np.array_equal(got > 0, person_lip() > 0)  # foreground = any LIP label > 0


def test_dress_and_jumpsuit_split_at_half_the_persons_height():
    for garment in (6, 10):
        m = np.zeros((H, W), np.uint8)
        m[10:20, 28:36] = 13      # face: the person starts at row 10
        m[20:100, 20:44] = garment
        m[100:120, 26:38] = 16    # a leg: the person ends at row 119, 110 rows tall
        got = lip_to_study(m)
        # Row r is above the hip line when (r - 10) / 110 < 0.5, i.e. r < 65.
        assert (got[20:65, 20:44] == 2).all() and (got[65:100, 20:44] == 3).all()
        assert (got[10:20, 28:36] == 1).all() and (got[100:120, 26:38] == 3).all()


def test_a_value_that_is_no_lip_class_is_refused():
    m = person_lip()
    m[0, 0] = 23
    with pytest.raises(MaskError, match=r"odd\.png holds value\(s\) \[23\], which are no LIP class"):
        lip_to_study(m, "odd.png")
    with pytest.raises(MaskError, match="single-channel"):
        lip_to_study(np.zeros((4, 4, 3), np.uint8))


# ---------------------------------------------------------------------------- the converter

@pytest.fixture
def market(tmp_path):
    return fake_market_with_parsing(tmp_path / "market1501")


def test_converter_writes_study_labels_and_reports_missing_maps(market, tmp_path):
    out = tmp_path / "masks"
    report = write_market_parsing_masks(market["parsing"], out, progress=False)
    assert report["written"] == 28 and report["missing_count"] == 2 and report["missing"] == market["missing"]
    listed = [line for line in (out / lip.MISSING_LIST).read_text().splitlines() if not line.startswith("#")]
    assert listed == market["missing"]
    # Every mask is where MaskSource looks for it, in study labels.
    source = MaskSource(market["release"], out)
    image = market["release"] / "bounding_box_train" / "0001_c1s1_000101_01.jpg"
    assert np.array_equal(source.load(image, size=(H, W)), person_study(shift=0))  # (1 + 1) % 5 - 2 = 0
    shifted = market["release"] / "bounding_box_train" / "0002_c1s1_000102_01.jpg"
    assert np.array_equal(source.load(shifted), person_study(shift=1))  # (2 + 1) % 5 - 2 = 1
    # An image without a map has no mask: a run that needs it stops with MaskSource's error.
    with pytest.raises(MaskError, match=r"missing mask .*0003_c3s1_000303_01\.png"):
        source.load(market["release"] / market["missing"][0])
    fg = (person_lip() > 0).mean()
    assert report["mean_foreground_fraction"] == pytest.approx(fg, abs=1e-4)
    assert report["label_fractions"]["accessories"] == 0.0 and report["label_fractions"]["head"] > 0


def test_lip_mask_source_reads_the_release_folder_directly(market):
    source = LipMaskSource(market["release"], market["parsing"])
    image = market["release"] / "bounding_box_train" / "0001_c1s1_000101_01.jpg"
    assert source.has(image) and np.array_equal(source.load(image, size=(H, W)), person_study(0))
    assert not source.has(market["release"] / market["missing"][1])
    with pytest.raises(MaskError, match="the release has no parsing map for it"):
        source.load(market["release"] / market["missing"][1])
    with pytest.raises(MaskError, match="is 128x64 but its image is 64x32"):
        source.load(image, size=(64, 32))


def test_a_bad_map_is_refused_by_name_and_nothing_is_written(market, tmp_path):
    bad = market["parsing"] / "bounding_box_train" / "0005_c2s1_000205_01.png"
    labels = person_lip()
    labels[60, 30] = 42
    Image.fromarray(labels, mode="L").save(bad)
    out = tmp_path / "masks"
    with pytest.raises(MaskError, match=r"1 parsing map\(s\) .*nothing was written.*0005_c2s1_000205_01\.png "
                                        r"holds value\(s\) \[42\]"):
        write_market_parsing_masks(market["parsing"], out, progress=False)
    assert not out.exists()
    # A map without an image, or of another size, is refused the same way.
    bad.unlink()
    Image.fromarray(person_lip(), mode="L").save(market["parsing"] / "bounding_box_train" / "0099_c1s1_000001_01.png")
    Image.fromarray(person_lip()[::2, ::2].copy(), mode="L").save(
        market["parsing"] / "bounding_box_train" / "0006_c1s1_000106_01.png")
    with pytest.raises(MaskError, match=r"2 parsing map\(s\).*0006_c1s1_000106_01\.png is 64x32, its image 128x64.*"
                                        r"0099_c1s1_000001_01\.png has no image"):
        write_market_parsing_masks(market["parsing"], out, progress=False)


def test_convert_command_line(market, tmp_path, capsys):
    out = tmp_path / "masks"
    assert lip.main(["convert", "--parsing", str(market["parsing"]), "--out", str(out), "--no-progress"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["written"] == 28 and report["missing_count"] == 2
    assert "2 images have no parsing map" in captured.err and "market_parser masks --fill" in captured.err
    assert len(list(out.rglob("*.png"))) == 28
    assert lip.main(["convert", "--parsing", str(tmp_path / "nowhere"), "--out", str(out)]) == 2
    assert "no parsing maps at" in capsys.readouterr().err
    assert lip.main(["convert", "--parsing", str(market["parsing"]), "--out", str(out),
                     "--images", str(tmp_path)]) == 2
    assert "no image folder bounding_box_train/" in capsys.readouterr().err


# ---------------------------------------------------------------------------- the real release

SHARED_DATA = Path(os.environ.get("REID_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
PARSING = SHARED_DATA / "market1501" / "parsing"


@pytest.mark.skipif(not (PARSING / "bounding_box_train").is_dir(),
                    reason=f"Market-1501's parsing maps not found at {PARSING} (set REID_SHARED_DATA)")
def test_real_parsing_folder_converts(tmp_path):
    # Measured on the whole release: 12,350 maps, 586 images without, mean foreground 0.4526
    # (median 0.467; 6 maps are empty); pixels: background 0.547, head 0.047, upper body 0.210, lower body 0.196.
    report = write_market_parsing_masks(PARSING, tmp_path / "masks", progress=False)
    assert report["written"] == 12350 and report["missing_count"] == 586 == len(set(report["missing"]))
    assert 0.2 < report["mean_foreground_fraction"] < 0.7
    fractions = report["label_fractions"]
    assert fractions["accessories"] == 0.0 and 0.02 < fractions["head"] < 0.1
    assert 0.1 < fractions["upper body"] < 0.35 and 0.1 < fractions["lower body"] < 0.35
    # The images without a map have no mask, and MaskSource says so.
    release = SHARED_DATA / "market1501" / "Market-1501-v15.09.15"
    with pytest.raises(MaskError, match="missing mask"):
        MaskSource(release, tmp_path / "masks").load(release / report["missing"][0])
    # A sample of the written maps: readable study maps, the same foreground as their LIP map.
    rng = np.random.default_rng(0)
    maps = sorted((PARSING / "bounding_box_train").glob("*.png"))
    for i in rng.choice(len(maps), 50, replace=False):
        with Image.open(maps[i]) as im:
            raw = np.asarray(im)
        study = read_label_map(tmp_path / "masks" / "bounding_box_train" / maps[i].name)
        assert study.shape == (128, 64) and study.max() <= 3 and np.array_equal(study > 0, raw > 0)

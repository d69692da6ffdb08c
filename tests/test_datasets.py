"""The dataset readers, on tiny exact copies of each layout (reidlib.data.fixtures) and on real CUHK01."""

from __future__ import annotations

import os
import shutil
import warnings
from collections import Counter
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

from reidlib.data import fixtures
from reidlib.data.datasets import DATASETS, DatasetLayoutError, dataset_options, extract_cuhk03_images, load_dataset
from reidlib.data.fixtures import write_fixture
from reidlib.paths import REPO_ROOT


def read(name: str, root: Path, **options: object):
    """``load_dataset`` without the warnings every fixture raises (they are far smaller than the releases)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_dataset(name, root, **options)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """Each dataset's fixture, written once per module, by name (and options)."""
    cache = {}

    def get(name: str, **options: object) -> Path:
        key = (name, tuple(sorted(options.items())))
        if key not in cache:
            cache[key] = write_fixture(name, tmp_path_factory.mktemp(name), **options)
        return cache[key]

    return get


def pids(records) -> Counter:
    return Counter(r.pid for r in records)


def assert_well_formed(dataset) -> None:
    """What every reader promises: relabelled training ids, 0-based cameras, absolute paths of real files."""
    train_ids = sorted({r.pid for r in dataset.train})
    assert train_ids == list(range(len(train_ids)))
    for record in dataset.train + dataset.query + dataset.gallery:
        assert record.camid >= 0
        assert os.path.isabs(record.path) and os.path.isfile(record.path), record.path


# --- registry ---------------------------------------------------------------------------------------

def test_every_dataset_has_a_reader_and_a_fixture():
    assert set(DATASETS) == {"market1501", "dukemtmc", "msmt17", "cuhk03", "mars", "viper", "cuhk01", "3dpes",
                             "folder"}
    assert set(fixtures.FIXTURES) == set(DATASETS)


def test_unknown_dataset_names_the_valid_ones(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'market'; choose one of market1501, dukemtmc"):
        load_dataset("market", tmp_path)


def test_unknown_option_names_the_valid_ones(tmp_path):
    with pytest.raises(ValueError, match=r"unknown option subsets for dataset 'cuhk03'; its options \(with "
                                         r"defaults\) are: subset='labeled', protocol='new', split=0"):
        load_dataset("cuhk03", tmp_path, subsets="detected")
    with pytest.raises(ValueError, match="its options .* are: none"):
        load_dataset("mars", tmp_path, shot="single")


def test_dataset_options_lists_defaults():
    assert dataset_options("market1501") == {"include_500k_distractors": False}
    assert dataset_options("cuhk01") == {"split_seed": 0, "num_test_ids": 486, "shot": "multi"}


def test_reading_compares_with_the_official_counts(written):
    with pytest.warns(UserWarning) as caught:
        dataset = load_dataset("market1501", written("market1501"))
    messages = [str(w.message) for w in caught]
    assert len(messages) == 8  # every count but the gallery's 6 cameras differs
    assert messages[0].startswith("market1501 train: 3 identities, the official release has 751 (root: ")
    assert dataset.expected["gallery"] == {"identities": 752, "images": 19732, "cameras": 6}


# --- Market-1501, DukeMTMC-reID, folder ---------------------------------------------------------------

def test_market1501_counts_relabelling_and_cameras(written):
    root = written("market1501")
    dataset = read("market1501", root)
    assert dataset.root == str(root / "Market-1501-v15.09.15")
    assert_well_formed(dataset)
    assert len(dataset.train) == 7 and pids(dataset.train) == {0: 2, 1: 3, 2: 2}
    assert sorted({r.camid for r in dataset.train}) == [0, 1, 2, 4, 5]
    assert pids(dataset.query) == {1: 2, 3: 1}
    assert sorted(r.camid for r in dataset.query) == [0, 1, 3]
    assert not dataset.is_video and all(r.tracklet == -1 for r in dataset.train)


def test_market1501_keeps_junk_and_distractors_in_the_gallery(written):
    dataset = read("market1501", written("market1501"))
    assert pids(dataset.gallery) == {1: 2, 3: 2, 0: 2, -1: 2}
    # The Thumbs.db beside the images is no image.
    assert all(r.path.endswith(".jpg") for r in dataset.gallery)


def test_market1501_drops_junk_from_training(written):
    root = written("market1501", junk_in_train=True)
    assert len(list((root / "Market-1501-v15.09.15" / "bounding_box_train").glob("*.jpg"))) == 8
    dataset = read("market1501", root)
    assert len(dataset.train) == 7 and set(pids(dataset.train)) == {0, 1, 2}


def test_market1501_500k_distractors_join_the_gallery_as_identity_0(written):
    root = written("market1501", distractors_500k=3)
    plain = read("market1501", root)
    dataset = read("market1501", root, include_500k_distractors=True)
    assert len(dataset.gallery) == len(plain.gallery) + 3
    assert pids(dataset.gallery)[0] == 2 + 3
    assert "images" not in dataset.expected["gallery"]
    with pytest.raises(DatasetLayoutError, match="no folder of distractor images; expected one of distractors_"):
        read("market1501", written("market1501"), include_500k_distractors=True)


def test_market1501_root_may_be_the_release_folder_or_its_parent(written):
    parent = read("market1501", written("market1501"))
    inner = read("market1501", written("market1501") / "Market-1501-v15.09.15")
    flat = read("market1501", written("market1501", nested=False))
    assert parent.train == inner.train
    assert [Path(r.path).name for r in flat.gallery] == [Path(r.path).name for r in parent.gallery]


def test_market1501_missing_folder_is_named(tmp_path):
    root = write_fixture("market1501", tmp_path, nested=False)
    shutil.rmtree(root / "bounding_box_test")
    with pytest.raises(DatasetLayoutError) as error:
        load_dataset("market1501", root)
    assert str(error.value) == (f"Market-1501 at {root}: missing folder bounding_box_test; "
                                "expected bounding_box_train, bounding_box_test, query")


def test_market1501_subfolder_given_as_root_gets_a_hint(written):
    with pytest.raises(DatasetLayoutError, match="bounding_box_train is itself one of them: pass its parent"):
        load_dataset("market1501", written("market1501") / "Market-1501-v15.09.15" / "bounding_box_train")


def test_market1501_missing_root(tmp_path):
    with pytest.raises(DatasetLayoutError, match=f"Market-1501 at {tmp_path / 'nope'}: no such folder"):
        load_dataset("market1501", tmp_path / "nope")


def test_market1501_bad_file_name_is_reported_by_path(tmp_path):
    root = write_fixture("market1501", tmp_path, nested=False)
    fixtures.write_image(root / "query" / "IMG_0001.jpg", "bad")
    with pytest.raises(DatasetLayoutError, match=r"1 file name not like 0002_c1s1_000451_03\.jpg: "
                                                 + str(root / "query" / "IMG_0001.jpg")):
        load_dataset("market1501", root)


def test_market1501_reads_the_release_as_shipped_doubled_suffix_and_thumbs_db(tmp_path):
    # The official zip names some images "*.jpg.jpg" and carries a Thumbs.db in each folder.
    root = write_fixture("market1501", tmp_path, nested=False)
    before = read("market1501", root)
    doubled = {"query": "1488_c1s6_023021_00.jpg.jpg", "bounding_box_test": "1488_c2s3_065527_02.jpg.jpg",
               "bounding_box_train": "1488_c3s3_071344_02.jpg.jpg"}
    for folder, name in doubled.items():
        fixtures.write_image(root / folder / name, "quirk")
        (root / folder / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0 not an image")
    dataset = read("market1501", root)
    assert len(dataset.query) == len(before.query) + 1 and len(dataset.gallery) == len(before.gallery) + 1
    assert len(dataset.train) == len(before.train) + 1
    added = [r for r in dataset.query + dataset.gallery if r.path.endswith(".jpg.jpg")]
    assert sorted((r.pid, r.camid) for r in added) == [(1488, 0), (1488, 1)]
    assert not any("Thumbs.db" in r.path for r in dataset.train + dataset.query + dataset.gallery)
    # A name that is not Market's, doubled suffix or not, is still refused by path.
    fixtures.write_image(root / "query" / "1488_c1s6.jpg.jpg", "bad")
    with pytest.raises(DatasetLayoutError, match=r"1 file name not like .*1488_c1s6\.jpg\.jpg"):
        read("market1501", root)


def test_market1501_camera_out_of_range(tmp_path):
    root = write_fixture("market1501", tmp_path, nested=False)
    fixtures.write_image(root / "query" / "0001_c7s1_000001_01.jpg", "bad")
    with pytest.raises(DatasetLayoutError, match="camera 7 in .*0001_c7s1_000001_01.jpg; cameras are 1..6"):
        load_dataset("market1501", root)


def test_market1501_empty_folder(tmp_path):
    root = write_fixture("market1501", tmp_path, nested=False)
    for image in (root / "query").iterdir():
        image.unlink()
    with pytest.raises(DatasetLayoutError, match="folder query holds no .jpg images"):
        load_dataset("market1501", root)


def test_dukemtmc(written):
    root = written("dukemtmc")
    dataset = read("dukemtmc", root)
    assert dataset.root == str(root / "DukeMTMC-reID")
    assert_well_formed(dataset)
    assert pids(dataset.train) == {0: 2, 1: 2}
    assert sorted(r.camid for r in dataset.train) == [0, 1, 2, 7]
    assert pids(dataset.query) == {3: 1, 4: 1}
    assert pids(dataset.gallery) == {3: 2, 4: 1, 9: 1}  # 9: a gallery-only distractor identity
    assert dataset.expected["gallery"]["identities"] == 1110


def test_folder_reads_a_market_layout_without_official_counts(written):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no official counts: nothing to warn about
        dataset = load_dataset("folder", written("folder"))
    assert_well_formed(dataset)
    assert dataset.expected == {}
    assert pids(dataset.gallery) == {1: 2, 3: 2, 0: 2, -1: 2}
    assert all(r.path.endswith(".png") for r in dataset.train)


# --- MSMT17 -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", [1, 2])
def test_msmt17_lists_and_cameras(written, version):
    root = written("msmt17", version=version)
    dataset = read("msmt17", root)
    assert dataset.root == str(root / f"MSMT17_V{version}")
    assert_well_formed(dataset)
    assert pids(dataset.train) == {0: 2, 1: 2, 2: 1}
    # Cameras from the file names' third field, 1..15 -> 0..14.
    assert sorted(r.camid for r in dataset.train) == [0, 1, 1, 2, 14]
    assert pids(dataset.query) == {0: 1, 1: 1} and len(dataset.gallery) == 4
    train_dir = "train" if version == 1 else "mask_train_v2"
    assert all(f"/MSMT17_V{version}/{train_dir}/" in r.path for r in dataset.train)


def test_msmt17_combine_val(written):
    root = written("msmt17")
    official = read("msmt17", root)
    combined = read("msmt17", root, combine_val=True)
    assert len(official.train) == 5 and len(combined.train) == 7
    assert set(pids(combined.train)) == set(pids(official.train))  # val holds the same identities
    assert official.expected["train"]["images"] == 30248 and combined.expected["train"]["images"] == 32621
    assert combined.query == official.query and combined.gallery == official.gallery


def test_msmt17_release_folder_as_root_and_version_choice(written, tmp_path):
    assert read("msmt17", written("msmt17") / "MSMT17_V1").train == read("msmt17", written("msmt17")).train
    write_fixture("msmt17", tmp_path, version=1)
    write_fixture("msmt17", tmp_path, version=2)
    with pytest.raises(DatasetLayoutError, match="holds both MSMT17_V1 and MSMT17_V2: pass version=1 or version=2"):
        load_dataset("msmt17", tmp_path)
    assert "mask_train_v2" in read("msmt17", tmp_path, version=2).train[0].path


def test_msmt17_missing_list_and_missing_image(tmp_path):
    root = write_fixture("msmt17", tmp_path)
    release = root / "MSMT17_V1"
    (release / "list_val.txt").unlink()
    with pytest.raises(DatasetLayoutError, match=f"MSMT17 at {release}: missing file list_val.txt"):
        load_dataset("msmt17", root)
    write_fixture("msmt17", tmp_path)
    gone = next((release / "test").rglob("*.jpg"))
    gone.unlink()
    with pytest.raises(DatasetLayoutError, match=f"1 image listed in list_(query|gallery).txt not found: {gone}"):
        load_dataset("msmt17", root)


def test_msmt17_malformed_list_line(tmp_path):
    root = write_fixture("msmt17", tmp_path)
    with open(root / "MSMT17_V1" / "list_query.txt", "a") as file:
        file.write("0001/0001_001_01_0303morning_0001_0.jpg\n")
    with pytest.raises(DatasetLayoutError, match="list_query.txt line 3 is not '<relative path> <label>'"):
        load_dataset("msmt17", root)


# --- CUHK03 -----------------------------------------------------------------------------------------

# (train images, query images, gallery images) of the fixture, per subset.
CUHK03_COUNTS = {"labeled": (20, 6, 6), "detected": (19, 6, 4)}


@pytest.mark.parametrize("subset", ["labeled", "detected"])
@pytest.mark.parametrize("layout", ["mat", "images"])
def test_cuhk03_new_protocol(written, tmp_path, layout, subset):
    root = written("cuhk03", layout=layout)
    dataset = read("cuhk03", root, subset=subset, extract_dir=tmp_path / "x" if layout == "mat" else None)
    assert_well_formed(dataset)
    assert (len(dataset.train), len(dataset.query), len(dataset.gallery)) == CUHK03_COUNTS[subset]
    assert set(pids(dataset.train)) == set(range(5))
    assert set(pids(dataset.query)) == set(pids(dataset.gallery)) == set(fixtures.CUHK03_TEST_LABELS)
    # One query image per test identity and camera.
    assert sorted((r.pid, r.camid) for r in dataset.query) == [(p, c) for p in (2, 5, 7) for c in (0, 1)]
    assert dataset.expected == {
        "labeled": {"train": {"identities": 767, "images": 7368, "cameras": 2},
                    "query": {"identities": 700, "images": 1400, "cameras": 2},
                    "gallery": {"identities": 700, "images": 5328, "cameras": 2}},
        "detected": {"train": {"identities": 767, "images": 7365, "cameras": 2},
                     "query": {"identities": 700, "images": 1400, "cameras": 2},
                     "gallery": {"identities": 700, "images": 5332, "cameras": 2}}}[subset]


@pytest.mark.parametrize("subset", ["labeled", "detected"])
def test_cuhk03_extraction_matches_the_extracted_layout(written, tmp_path, subset):
    from_mat = read("cuhk03", written("cuhk03", layout="mat"), subset=subset, extract_dir=tmp_path)
    from_images = read("cuhk03", written("cuhk03", layout="images"), subset=subset)
    for split in ("train", "query", "gallery"):
        a, b = getattr(from_mat, split), getattr(from_images, split)
        assert [(Path(r.path).name, r.pid, r.camid) for r in a] == [(Path(r.path).name, r.pid, r.camid) for r in b]
    for a, b in zip(from_mat.train, from_images.train):
        assert Path(a.path).parent == tmp_path
        # Same pixels, same orientation (height 16, width 8).
        assert np.array_equal(np.asarray(Image.open(a.path)), np.asarray(Image.open(b.path)))
        assert Image.open(a.path).size == (fixtures.WIDTH, fixtures.HEIGHT)


def test_cuhk03_extraction_is_a_cache(written, tmp_path):
    mat = written("cuhk03", layout="mat") / "cuhk03_release" / "cuhk-03.mat"
    assert extract_cuhk03_images(mat, "detected", tmp_path) == 29  # 8 identities x 4 images, 3 missed detections
    assert extract_cuhk03_images(mat, "detected", tmp_path) == 0
    assert not list(tmp_path.glob("*.partial"))


def test_cuhk03_default_extract_dir(tmp_path):
    root = write_fixture("cuhk03", tmp_path, layout="mat")
    dataset = read("cuhk03", root)
    assert Path(dataset.train[0].path).parent == root / "images_labeled"
    assert len(list((root / "images_labeled").glob("*.png"))) == 32


def test_cuhk03_classic_protocol(written, tmp_path):
    root = written("cuhk03", layout="mat")
    splits = []
    for split in (0, 1):
        dataset = read("cuhk03", root, protocol="classic", split=split, extract_dir=tmp_path)
        assert_well_formed(dataset)
        test_ids = set(pids(dataset.query))
        assert test_ids == set(pids(dataset.gallery)) and len(test_ids) == fixtures.CUHK03_CLASSIC_TEST_IDS
        assert {r.camid for r in dataset.query} == {0} and {r.camid for r in dataset.gallery} == {1}
        train_ids = {int(Path(r.path).name[0]) * 1000 + int(Path(r.path).name[2:5]) for r in dataset.train}
        assert not train_ids & test_ids and len(train_ids) == 8 - 2
        splits.append(test_ids)
    # The official testsets of the fixture's cuhk-03.mat: split 0 = (3, 1), (5, 1); split 1 = (2, 1), (2, 2).
    assert splits == [{3001, 5001}, {2001, 2002}]
    with pytest.raises(ValueError, match="split must be 0..19; got 20"):
        read("cuhk03", root, protocol="classic", split=20, extract_dir=tmp_path)
    with pytest.raises(DatasetLayoutError, match="missing file cuhk03_release/cuhk-03.mat; protocol='classic'"):
        read("cuhk03", written("cuhk03", layout="images"), protocol="classic")


def test_cuhk03_option_values(written):
    root = written("cuhk03", layout="images")
    with pytest.raises(ValueError, match="subset must be one of 'labeled', 'detected'; got 'manual'"):
        load_dataset("cuhk03", root, subset="manual")
    with pytest.raises(ValueError, match="the new protocol has one"):
        load_dataset("cuhk03", root, split=3)


def test_cuhk03_broken_layouts(tmp_path):
    with pytest.raises(DatasetLayoutError, match="missing file cuhk03_release/cuhk-03.mat and folder images_lab"):
        load_dataset("cuhk03", tmp_path)
    root = write_fixture("cuhk03", tmp_path, layout="images")
    (root / "cuhk03_new_protocol_config_detected.mat").unlink()
    with pytest.raises(DatasetLayoutError, match="missing file cuhk03_new_protocol_config_detected.mat"):
        load_dataset("cuhk03", root, subset="detected")
    gone = root / "images_labeled" / "1_001_2_06.png"
    gone.unlink()
    with pytest.raises(DatasetLayoutError, match=f"1 labeled image not in {root / 'images_labeled'} and there is "
                                                 f"no cuhk03_release/cuhk-03.mat to extract from: {gone}"):
        load_dataset("cuhk03", root)


def test_cuhk03_fixture_is_a_matlab_v73_file(written):
    mat = written("cuhk03", layout="mat") / "cuhk03_release" / "cuhk-03.mat"
    assert mat.read_bytes()[:10] == b"MATLAB 7.3" and mat.read_bytes()[126:128] == b"IM"
    with h5py.File(mat, "r") as file:
        assert file["labeled"].shape == (1, 5) and file["labeled"].attrs["MATLAB_class"] == b"cell"
        pair = file[file["labeled"][0, 0]][()].T  # MATLAB's (identities x 10) cell
        assert pair.shape == (3, 10)
        assert file[pair[0, 0]].shape == (3, fixtures.WIDTH, fixtures.HEIGHT)  # transposed H x W x 3
        assert file[pair[0, 9]].attrs["MATLAB_empty"] == 1


# --- MARS -------------------------------------------------------------------------------------------

def test_mars_tracklets_and_query_selection(written):
    dataset = read("mars", written("mars"))
    assert dataset.is_video
    assert_well_formed(dataset)
    assert len(dataset.train) == 10 and pids(dataset.train) == {0: 5, 1: 5}
    assert sorted({r.tracklet for r in dataset.train}) == [0, 1, 2, 3]
    # Test tracklets follow the training ones; query rows 1 and 3 of the test table.
    assert sorted({r.tracklet for r in dataset.gallery}) == list(range(4, 11))
    assert sorted({r.tracklet for r in dataset.query}) == [4, 6]
    assert pids(dataset.query) == {3: 2, 4: 2}
    assert {(r.pid, r.camid) for r in dataset.query} == {(3, 0), (4, 2)}
    # The gallery is every test tracklet, queries included, with junk and distractors.
    assert set(dataset.query) <= set(dataset.gallery)
    assert pids(dataset.gallery) == {3: 7, 4: 4, 0: 2, -1: 2}
    assert dataset.statistics().loc["gallery", "tracklets"] == 7
    # Each frame lies in its identity's folder.
    assert all(Path(r.path).parent.name == Path(r.path).name[:4] for r in dataset.gallery)


def test_mars_frame_name_must_agree_with_its_track(tmp_path):
    root = write_fixture("mars", tmp_path)
    names = (root / "info" / "test_name.txt").read_text().split()
    names[0] = names[0].replace("C1T", "C2T")
    (root / "info" / "test_name.txt").write_text("\n".join(names))
    with pytest.raises(DatasetLayoutError, match="tracklet row 1 of identity 3, camera 1, but its name says "
                                                 "identity 3, camera 2"):
        load_dataset("mars", root)


def test_mars_missing_info_file(tmp_path):
    root = write_fixture("mars", tmp_path)
    (root / "info" / "query_IDX.mat").unlink()
    with pytest.raises(DatasetLayoutError, match=f"MARS at {root}: missing file info/query_IDX.mat"):
        load_dataset("mars", root)


# --- VIPeR, CUHK01, 3DPeS ---------------------------------------------------------------------------

def original_ids(name: str, dataset) -> set[int]:
    """Identities of the training records, from their file names (the records are relabelled)."""
    parse = {"viper": lambda n: int(n.split("_")[0]), "cuhk01": lambda n: int(n[:4]),
             "3dpes": lambda n: int(n.split("_")[0])}[name]
    return {parse(Path(r.path).name) for r in dataset.train}


@pytest.mark.parametrize("name, num_test_ids", [("viper", 3), ("cuhk01", 3), ("3dpes", 2)])
def test_random_splits_are_seeded_and_disjoint(written, name, num_test_ids):
    root = written(name)

    def split(seed: int):
        dataset = read(name, root, split_seed=seed, num_test_ids=num_test_ids)
        assert_well_formed(dataset)
        test_ids = set(pids(dataset.query))
        assert test_ids == set(pids(dataset.gallery)) and len(test_ids) == num_test_ids
        assert not original_ids(name, dataset) & test_ids
        assert {r.camid for r in dataset.query} == {0} and {r.camid for r in dataset.gallery} == {1}
        return dataset

    first, again, other = split(0), split(0), split(1)
    assert (first.train, first.query, first.gallery) == (again.train, again.query, again.gallery)
    assert set(pids(first.query)) != set(pids(other.query))


def test_viper_counts(written):
    dataset = read("viper", written("viper"), num_test_ids=3)
    assert (len(dataset.train), len(dataset.query), len(dataset.gallery)) == (6, 3, 3)
    # The official totals (632 identities, one image per camera) under this split.
    assert dataset.expected["train"] == {"identities": 629, "images": 1258, "cameras": 2}
    assert dataset.expected["query"] == {"identities": 3, "images": 3, "cameras": 1}
    with pytest.raises(ValueError, match="num_test_ids=316, but VIPeR at .* has 6 identities"):
        read("viper", written("viper"))


def test_viper_unpaired_image(tmp_path):
    root = write_fixture("viper", tmp_path)
    fixtures.write_image(root / "VIPeR" / "cam_a" / "099_45.bmp", "lonely")
    with pytest.raises(DatasetLayoutError, match=r"identity in one camera only \(by the number before '_'\): 99"):
        load_dataset("viper", root, num_test_ids=3)


@pytest.mark.parametrize("shot, per_test_id", [("multi", 2), ("single", 1)])
def test_cuhk01_shots(written, shot, per_test_id):
    dataset = read("cuhk01", written("cuhk01"), num_test_ids=2, shot=shot)
    assert len(dataset.train) == 4 * 4  # training keeps all four images of its identities
    assert len(dataset.query) == len(dataset.gallery) == 2 * per_test_id
    with pytest.raises(ValueError, match="shot must be one of 'single', 'multi'"):
        read("cuhk01", written("cuhk01"), num_test_ids=2, shot="few")


def test_cuhk01_bad_image_number(tmp_path):
    root = write_fixture("cuhk01", tmp_path)
    fixtures.write_image(root / "campus" / "0001005.png", "fifth")
    with pytest.raises(DatasetLayoutError, match="image number 005 in .*0001005.png; expected 001-004"):
        load_dataset("cuhk01", root, num_test_ids=2)


def test_3dpes_views_become_two_cameras(written):
    root = written("3dpes")
    for seed in range(5):
        dataset = read("3dpes", root, split_seed=seed, num_test_ids=2)
        # Identity 4 was seen once, so it cannot be a test identity.
        assert 4 not in pids(dataset.query) and 4 in original_ids("3dpes", dataset)
        assert len(dataset.train) + len(dataset.query) + len(dataset.gallery) == 18
    assert dataset.expected["train"] == {"identities": 190, "cameras": 2}


# --- real data ---------------------------------------------------------------------------------------

SHARED_DATA = Path(os.environ.get("REID_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.mark.skipif(not (SHARED_DATA / "cuhk01" / "campus").is_dir(),
                    reason=f"real CUHK01 not found at {SHARED_DATA / 'cuhk01' / 'campus'} (set REID_SHARED_DATA)")
def test_real_cuhk01():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the release matches the official counts exactly
        dataset = load_dataset("cuhk01", SHARED_DATA / "cuhk01")
    stats = dataset.statistics()
    assert stats.loc["train"].tolist() == [485, 1940, 2]
    assert stats.loc["query"].tolist() == stats.loc["gallery"].tolist() == [486, 972, 1]
    assert_well_formed(dataset)
    small = load_dataset("cuhk01", SHARED_DATA / "cuhk01" / "campus", num_test_ids=100, shot="single", split_seed=3)
    assert small.statistics().loc["train"].tolist() == [871, 3484, 2]
    assert small.statistics().loc["query"].tolist() == [100, 100, 1]


MARKET = SHARED_DATA / "market1501"


@pytest.mark.skipif(not (MARKET / "Market-1501-v15.09.15").is_dir(),
                    reason=f"real Market-1501 not found at {MARKET} (set REID_SHARED_DATA)")
def test_real_market1501_has_the_official_counts():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every official count, *.jpg.jpg files included
        dataset = load_dataset("market1501", MARKET)
    stats = dataset.statistics()
    assert stats.loc["train"].tolist() == [751, 12936, 6]
    assert stats.loc["query"].tolist() == [750, 3368, 6]
    assert stats.loc["gallery"].tolist() == [752, 19732, 6]
    gallery = pids(dataset.gallery)
    assert (gallery[0], gallery[-1]) == (2798, 3819)  # distractors 0000, junk -1
    assert sum(r.path.endswith(".jpg.jpg") for r in dataset.query) == 6


def test_official_statistics_match_what_readers_compare_with():
    from reidlib.data.datasets import official_statistics

    assert official_statistics("market1501")["query"]["images"] == 3368
    assert official_statistics("cuhk01")["train"] == {"identities": 485, "cameras": 2, "images": 1940}
    with pytest.raises(ValueError, match="no official statistics"):
        official_statistics("folder")

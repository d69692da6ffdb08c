"""The inspect command line and the image check."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from reidlib.data.datasets import verify_images
from reidlib.data.fixtures import write_fixture
from reidlib.data.inspect import main, parse_option
from reidlib.data.records import Record
from reidlib.paths import REPO_ROOT


def test_prints_counts_beside_the_official_ones_and_warns(tmp_path, capsys):
    root = write_fixture("market1501", tmp_path)
    assert main(["--dataset", "market1501", "--root", str(root)]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0] == f"market1501 at {root / 'Market-1501-v15.09.15'} (counts, official counts in brackets)"
    assert lines[1].split() == ["identities", "images", "cameras"]
    assert lines[2].split() == ["train", "3", "(751)", "7", "(12936)", "5", "(6)"]
    assert lines[4].split() == ["gallery", "4", "(752)", "8", "(19732)", "6", "(6)"]
    assert "warning: market1501 train: 3 identities, the official release has 751" in err


def test_video_table_has_tracklets_and_options_are_passed(tmp_path, capsys):
    assert main(["--dataset", "mars", "--root", str(write_fixture("mars", tmp_path))]) == 0
    assert capsys.readouterr().out.splitlines()[1].split() == ["identities", "images", "cameras", "tracklets"]
    root = write_fixture("cuhk01", tmp_path)
    assert main(["--dataset", "cuhk01", "--root", str(root), "--option", "num_test_ids=2",
                 "--option", "shot=single"]) == 0
    assert capsys.readouterr().out.splitlines()[3].split() == ["query", "2", "(2)", "2", "(2)", "1", "(1)"]


def test_broken_layout_is_one_line_without_traceback(tmp_path):
    root = write_fixture("market1501", tmp_path, nested=False)
    shutil.rmtree(root / "query")
    result = subprocess.run([sys.executable, "-m", "reidlib.data.inspect", "--dataset", "market1501",
                             "--root", str(root)], capture_output=True, text=True, check=False, cwd=REPO_ROOT)
    assert result.returncode == 1
    assert result.stderr == (f"error: Market-1501 at {root}: missing folder query; "
                             "expected bounding_box_train, bounding_box_test, query\n")
    assert result.stdout == ""


@pytest.mark.parametrize("argv, message", [
    (["--dataset", "market"], "error: unknown dataset 'market'; choose one of market1501"),
    (["--dataset", "cuhk03", "--option", "subsets=detected"], "error: unknown option subsets for dataset 'cuhk03'"),
    (["--dataset", "cuhk03", "--option", "subset=manual"], "error: subset must be one of 'labeled', 'detected'"),
])
def test_bad_names_and_options(tmp_path, capsys, argv, message):
    assert main(argv + ["--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


def test_verify_reports_unreadable_images(tmp_path, capsys):
    root = write_fixture("cuhk01", tmp_path)
    argv = ["--dataset", "cuhk01", "--root", str(root), "--option", "num_test_ids=2", "--verify"]
    assert main(argv) == 0
    assert "all 24 images open" in capsys.readouterr().out
    broken = root / "campus" / "0003002.png"
    broken.write_bytes(b"not a png")
    assert main(argv) == 1
    assert f"error: 1 unreadable image: {broken}" in capsys.readouterr().err


def test_verify_images(tmp_path):
    good = write_fixture("viper", tmp_path) / "VIPeR" / "cam_a" / "000_0.bmp"
    truncated = tmp_path / "truncated.bmp"
    truncated.write_bytes(good.read_bytes()[:-40])
    missing = tmp_path / "missing.jpg"
    records = [Record(str(p), 1, 0) for p in (good, truncated, missing, truncated)]
    assert verify_images(records) == [str(truncated), str(missing)]


def test_parse_option():
    assert parse_option("num_test_ids=100") == ("num_test_ids", 100)
    assert parse_option("combine_val=true") == ("combine_val", True)
    assert parse_option("include_500k_distractors=True") == ("include_500k_distractors", True)
    assert parse_option("extract_dir=/tmp/x") == ("extract_dir", "/tmp/x")
    assert parse_option("version=None") == ("version", None)
    assert parse_option("subset=detected") == ("subset", "detected")

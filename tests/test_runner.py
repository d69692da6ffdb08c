"""The notebook runner, results files and run provenance."""

import json
import subprocess
import tempfile
from pathlib import Path

import nbformat
import numpy as np
import pytest

from reidlib import notebooks, results
from reidlib.paths import results_dir
from reidlib.runinfo import run_metadata


def test_parameters_are_read_as_yaml():
    got = notebooks.parse_parameters([["seed", "3"], ["seeds", "[0, 1, 2]"], ["dataset", "market1501"],
                                      ["flip", "true"], ["lr", "3.5e-4"], ["base_lr", "1e-3"], ["wd", "5E-4"]])
    assert got == {"seed": 3, "seeds": [0, 1, 2], "dataset": "market1501", "flip": True, "lr": 3.5e-4,
                   "base_lr": 1e-3, "wd": 5e-4}  # YAML 1.1 alone reads the last two as strings


def test_find_notebooks():
    names = [p.stem for p in notebooks.find_notebooks()]
    chapters = [n for n in names if n not in notebooks.READS_OTHERS]
    assert "evaluation" in names and chapters == sorted(chapters)
    # The landing page summarises the chapters' results, so it runs after all of them.
    assert names[-1] == "summary"
    assert [p.stem for p in notebooks.find_notebooks(["evaluation.ipynb"])] == ["evaluation"]
    with pytest.raises(SystemExit, match="unknown notebook"):
        notebooks.find_notebooks(["no-such-notebook"])


def test_every_notebook_has_the_metadata_papermill_needs():
    for path in notebooks.find_notebooks():
        nb = nbformat.read(path, as_version=4)
        assert nb.metadata["kernelspec"]["name"] == "python3", path
        assert "language_info" in nb.metadata, path
        tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, f"{path.name} needs exactly one cell tagged 'parameters'"
        assert 'profile = "ci"' in tagged[0].source, f"{path.name}: defaults must be the ci profile"


def test_stored_outputs_do_not_depend_on_the_checkout():
    # nbval compares stored outputs on other machines: a path or a warning in them breaks CI.
    for path in notebooks.find_notebooks():
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                text = out.get("text", "") + str(out.get("data", {}).get("text/plain", ""))
                assert out.get("name") != "stderr", f"{path.name}: stderr output {text[:200]!r}"
                assert "/reidlib/" not in text and "site-packages" not in text, f"{path.name}: {text[:200]!r}"


def test_execute_injects_parameters_and_records_provenance(tmp_path, monkeypatch):
    monkeypatch.delenv("TQDM_MININTERVAL", raising=False)  # and restored afterwards: execute sets it
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('profile = "ci"\nseed = 0\noutput_dir = None')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("import os\nprint(os.environ.get('TQDM_MININTERVAL'))"),
                nbformat.v4.new_code_cell("print(profile, seed)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    source = tmp_path / "tiny.ipynb"
    nbformat.write(nb, source)
    record = notebooks.execute(source, "cpu", {"seed": 5, "output_dir": str(tmp_path / "res")},
                               output_dir=tmp_path / "executed")
    executed = nbformat.read(tmp_path / "executed" / "tiny.ipynb", as_version=4)
    assert executed.cells[-1].outputs[0]["text"] == "cpu 5\n"
    assert float(executed.cells[-2].outputs[0]["text"]) >= 1  # progress bars refresh seldom in a stored notebook
    saved = json.loads((tmp_path / "res" / "tiny.run.json").read_text())
    assert saved == record
    assert saved["parameters"] == {"profile": "cpu", "seed": 5, "output_dir": str(tmp_path / "res")}
    assert saved["wall_time_s"] > 0 and saved["versions"]["torch"] and saved["device"].startswith(("cpu", "cuda"))


def scratch_notebook(tmp_path, monkeypatch, env: tuple[str, ...], cells: list[str]) -> None:
    """A notebook ``tiny`` (a parameters cell, then ``cells``) in a scratch notebooks folder; the book is ``tmp/book``."""
    for name in (*env, "REIDLIB_RESULTS_OUT"):  # main sets them; monkeypatch puts them back
        monkeypatch.setenv(name, "")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(notebooks, "NOTEBOOKS_DIR", tmp_path / "notebooks")
    monkeypatch.setattr(notebooks, "EXECUTED_DIR", tmp_path / "book")
    (tmp_path / "notebooks").mkdir()
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('profile = "ci"\noutput_dir = None')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, *map(nbformat.v4.new_code_cell, cells)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.write(nb, tmp_path / "notebooks" / "tiny.ipynb")


def test_smoke_runs_shrink_the_configs_and_keep_everything_out_of_the_book(tmp_path, monkeypatch):
    from reidlib.engine.profiles import SMOKE_ENV

    scratch_notebook(tmp_path, monkeypatch, (SMOKE_ENV,), [
        ("from reidlib.engine import make_config\nfrom reidlib.engine.trainer import default_output_dir\n"
         "cfg = make_config('fmn', profile)\n"
         "print(cfg.data.dataset, cfg.data.height, [s.epochs for s in cfg.schedule.stages], default_output_dir(cfg).parts[-3])\n"
         "from reidlib.results import save_results\nsave_results('tiny', {'x': 1}, profile)")])

    assert notebooks.main(["--profile", "cpu", "--smoke", "--only", "tiny"]) == 0
    assert not (tmp_path / "book").exists()
    scratch, = (tmp_path / "tmp").glob("reidlib-smoke-cpu-*")
    executed = nbformat.read(scratch / "notebooks" / "tiny.ipynb", as_version=4)
    assert executed.cells[-1].outputs[0]["text"] == "synth-tiny 64 [1, 1] smoke\n"
    assert json.loads((scratch / "results" / "cpu" / "tiny.json").read_text())["x"] == 1
    assert (scratch / "results" / "cpu" / "tiny.run.json").exists()


def test_smoke_settings_keep_the_method_and_a_real_dataset():
    from reidlib.engine.profiles import smoke_settings

    values = {"method": "fmn", "model": {"options": {"masked_layer": "res4"}, "pretrained": "/w/resnet50.pth"},
              "data": {"dataset": "cuhk01", "data_root": "/d", "height": 256, "num_workers": 8},
              "schedule": {"epochs": 120, "warmup_epochs": 10, "milestones": [40, 70],
                           "stages": [{"name": "a", "epochs": 20, "milestones": [13], "warmup_epochs": 3, "lr": 0.01},
                                      {"name": "b", "alternate": ["reid", "reconstruction"]}]}}
    small = smoke_settings(values)
    assert small["model"] == {"options": {"masked_layer": "res4"}, "pretrained": None}
    assert small["data"]["dataset"] == "cuhk01" and small["data"]["data_root"] == "/d"
    assert (small["data"]["height"], small["data"]["width"], small["data"]["num_workers"]) == (128, 32, 0)  # half, >= 64x32
    assert (small["schedule"]["epochs"], small["schedule"]["milestones"]) == (1, [])
    assert small["schedule"]["stages"] == [{"name": "a", "epochs": 1, "milestones": None, "warmup_epochs": 0, "lr": 1e-3},
                                           {"name": "b", "alternate": ["reid", "reconstruction"], "milestones": None}]
    tiny = smoke_settings({"data": {"dataset": "synth-market", "height": 128, "width": 64}})["data"]
    assert (tiny["dataset"], tiny["height"], tiny["width"]) == ("synth-tiny", 64, 32)
    # A rate meant for ImageNet weights is capped (random weights at SGD 0.1 reach NaN in one epoch).
    sgd = smoke_settings({"optim": {"name": "sgd", "lr": 0.1, "pretrained_lr_mult": 0.1}})["optim"]
    assert sgd == {"name": "sgd", "lr": 1e-3, "pretrained_lr_mult": 0.1}
    assert smoke_settings({"optim": {"lr": 3.5e-4}})["optim"]["lr"] == 3.5e-4


def test_run_metadata_names_the_commit():
    meta = run_metadata(extra=1)
    assert meta["extra"] == 1
    assert meta["git_commit"] is None or len(meta["git_commit"].split("-")[0]) == 40


def test_a_commit_is_dirty_for_changed_code_but_not_for_rewritten_results(tmp_path):
    from reidlib.runinfo import git_commit

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "chapter.json").write_text("{}")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "start")
    head = git_commit(tmp_path)
    assert len(head) == 40 and not head.endswith("-dirty")
    (tmp_path / "results" / "chapter.json").write_text('{"rank1": 0.5}')  # what a run itself writes
    (tmp_path / "notes.txt").write_text("untracked")
    assert git_commit(tmp_path) == head
    (tmp_path / "code.py").write_text("x = 2\n")
    assert git_commit(tmp_path) == head + "-dirty"


def test_results_round_trip(tmp_path, monkeypatch):
    path = results.save_results("demo", {"cmc": np.array([0.5, 1.0]), "mAP": np.float64(0.25)}, "ci", tmp_path)
    assert json.loads(path.read_text()) == {"profile": "ci", "cmc": [0.5, 1.0], "mAP": 0.25}
    monkeypatch.setattr(results, "results_dir", lambda p: tmp_path if p == "ci" else tmp_path / p)
    assert results.load_results("demo")["mAP"] == 0.25
    with pytest.raises(FileNotFoundError, match="run its notebook first"):
        results.load_results("missing")


def test_unknown_profile():
    with pytest.raises(ValueError, match="unknown profile"):
        results_dir("laptop")


def test_largest_results_prefers_committed_larger_profiles(tmp_path, monkeypatch):
    monkeypatch.setattr(results, "results_dir", lambda p: tmp_path / p)
    assert results.largest_results("demo", {"x": 1}, "ci") == {"profile": "ci", "x": 1}
    results.save_results("demo", {"x": 2}, "cpu", tmp_path / "cpu")
    assert results.largest_results("demo", {"x": 1}, "ci") == {"profile": "cpu", "x": 2}
    assert results.largest_results("demo", {"x": 3}, "cpu") == {"profile": "cpu", "x": 3}
    # committed results written before the notebook computed "y" are passed over
    assert results.largest_results("demo", {"x": 1, "y": 0}, "ci", require=("y",)) == {"profile": "ci", "x": 1, "y": 0}


def test_status_reports_saved_results_and_run_states(tmp_path, monkeypatch):
    import os
    import socket

    monkeypatch.setattr(notebooks, "results_dir", lambda p: tmp_path / "results" / p)
    (tmp_path / "results" / "cpu").mkdir(parents=True)
    (tmp_path / "results" / "cpu" / "fmn.run.json").write_text(json.dumps({"finished_at": "2026-11-22T11:04"}))
    runs = tmp_path / "runs" / "fmn"
    for name, files in {"cpu-a": ["results.json", "checkpoint.pt"], "cpu-b": ["checkpoint.pt"],
                        "cpu-c": ["checkpoint.pt"], "cpu-d": [], "ci-e": ["results.json"]}.items():
        (runs / name).mkdir(parents=True)
        for f in files:
            (runs / name / f).write_text("{}")
    (runs / "cpu-c" / "train.lock").write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "since": "now"}))
    kept = tmp_path / "results" / "cpu" / "runs" / "mgcam"
    kept.mkdir(parents=True)
    for name in ("cpu-a.json", "cpu-b.json", "cpu-a.pt"):
        (kept / name).write_text("{}")
    (tmp_path / "results" / "cpu" / "bgbias.json").write_text("{}")  # results without their .run.json
    text = notebooks.status("cpu", [Path("fmn.ipynb"), Path("ftn.ipynb"), Path("bgbias.ipynb")], tmp_path / "runs")
    assert "fmn          results saved 2026-11-22T11:04" in text and "ftn          no results yet" in text
    assert "bgbias       results saved (no .run.json" in text
    assert "fmn          1 finished, 1 training, 1 cut off, 1 empty" in text  # the ci run is not counted
    assert "mgcam        2 runs, weights kept for 1 (pictures)" in text


def test_show_figure_keeps_study_pictures_and_prefers_the_larger_profiles(tmp_path, monkeypatch):
    import IPython.display
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.setattr(results, "results_dir", lambda p: tmp_path / p)
    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    monkeypatch.setattr(plt, "show", lambda: shown.append("own figure"))

    assert results.show_figure(plt.figure(), "ch", "pic", "ci") is None  # no value: nothing printed after a cell
    assert shown == ["own figure"] and not (tmp_path / "ci").exists()  # ci pictures are not kept
    results.show_figure(plt.figure(), "ch", "pic", "cpu")  # nothing larger: its own, and kept
    assert (tmp_path / "cpu" / "figures" / "ch-pic.png").stat().st_size > 0
    shown.clear()
    results.show_figure(plt.figure(), "ch", "pic", "ci")
    caption, picture = shown
    assert "`cpu` profile" in caption.data and "ch-pic.png" in caption.data
    assert isinstance(picture, IPython.display.Image) and picture.data[:4] == b"\x89PNG"
    shown.clear()
    results.show_figure(plt.figure(), "ch", "other", "ci")
    assert shown == ["own figure"]
    results.show_figure(plt.figure(), "ch", "real", "gpu", keep=False)  # a real dataset's images
    assert not (tmp_path / "gpu").exists()
    plt.close("all")


def test_results_out_redirects_saving_but_not_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(results, "results_dir", lambda p: tmp_path / "committed" / p)
    monkeypatch.setenv("REIDLIB_RESULTS_OUT", str(tmp_path / "scratch"))
    path = results.save_results("ch", {"x": 1}, "ci")
    assert path == tmp_path / "scratch" / "ci" / "ch.json"
    assert not (tmp_path / "committed").exists()
    assert results.save_results("ch", {"x": 2}, "ci", output_dir=tmp_path / "mine").parent == tmp_path / "mine"


def test_partial_runs_go_past_failing_cells_and_save_nothing_for_the_book(tmp_path, monkeypatch):
    scratch_notebook(tmp_path, monkeypatch, ("REIDLIB_PARTIAL",), [
        "runs = {}\nruns['not trained yet'][0]",
        ("import os\nprint(os.environ['REIDLIB_PARTIAL'])\n"
         "from reidlib.results import save_results\nsave_results('tiny', {'x': 1}, profile)")])

    with pytest.raises(SystemExit, match="cpu and gpu"):
        notebooks.main(["--profile", "ci", "--partial", "--only", "tiny"])
    assert notebooks.main(["--profile", "cpu", "--partial", "--only", "tiny"]) == 0
    assert not (tmp_path / "book").exists()
    scratch, = (tmp_path / "tmp").glob("reidlib-partial-cpu-*")
    executed = nbformat.read(scratch / "notebooks" / "tiny.ipynb", as_version=4)
    *_, failing, after = executed.cells  # (papermill adds the injected-parameters cell)
    assert failing.outputs[0]["output_type"] == "error"
    assert after.outputs[0]["text"] == "1\n"  # the cell after the failing one ran, in partial mode
    assert json.loads((scratch / "results" / "cpu" / "tiny.run.json").read_text())["failed_cells"] == 1
    assert (scratch / "results" / "cpu" / "tiny.json").exists()


def test_a_helper_run_keeps_its_notebooks_and_results_out_of_the_book(tmp_path, monkeypatch):
    scratch_notebook(tmp_path, monkeypatch, ("REIDLIB_PARTIAL", "REIDLIB_HELPER"), [
        "runs = {}\nruns['trained by the main process'][0]",  # a run the helper left out: the cell fails, the rest go on
        ("import os\nprint(os.environ['REIDLIB_HELPER'])\n"
         "from reidlib.results import save_results\nsave_results('tiny', {'x': 1}, profile)")])

    for wrong in (["--profile", "ci", "--helper"], ["--profile", "cpu", "--helper", "--partial"]):
        with pytest.raises(SystemExit, match="--helper"):
            notebooks.main([*wrong, "--only", "tiny"])
    assert notebooks.main(["--profile", "cpu", "--helper", "--only", "tiny"]) == 0
    assert not (tmp_path / "book").exists()
    scratch, = (tmp_path / "tmp").glob("reidlib-helper-cpu-*")
    *_, failing, after = nbformat.read(scratch / "notebooks" / "tiny.ipynb", as_version=4).cells
    assert failing.outputs[0]["output_type"] == "error" and after.outputs[0]["text"] == "1\n"
    assert json.loads((scratch / "results" / "cpu" / "tiny.run.json").read_text())["failed_cells"] == 1
    assert json.loads((scratch / "results" / "cpu" / "tiny.json").read_text())["x"] == 1

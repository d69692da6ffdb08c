"""`python -m reidlib.notebooks --verify`: the results comparison and verify mode's read-only records (no notebook runs here)."""

import json

import nbformat
import pytest

from reidlib import notebooks
from reidlib.engine import records
from reidlib.engine.records import FORMAT, MissingRunError, evaluate_run, score_key
from reidlib.paths import NOTEBOOKS_DIR
from reidlib.results import MISSING, VOLATILE, compare_results, key_path

COMMITTED = {"profile": "cpu", "dataset": "synth-small", "seeds": [0, 1, 2],
             "table": {"baseline": {"rank1": 0.63, "mAP": 0.41}, "ours": {"rank1": 0.946, "mAP": 0.8}},
             "claims": [{"claim": "ours beats baseline", "diff": 31.6, "verdict": "reproduced", "called": True},
                        {"claim": "small effect", "diff": 0.4, "verdict": "inconclusive", "called": False}]}


def copy():
    return json.loads(json.dumps(COMMITTED))


def test_equal_results_match_and_numbers_within_the_tolerance_too():
    assert compare_results(COMMITTED, copy()) == []
    new = copy()
    new["table"]["ours"]["rank1"] = 0.946 * (1 + 1e-12)  # the same number through another summation order
    new["seeds"] = [0.0, 1, 2]  # an int written as a float
    assert compare_results(COMMITTED, new) == []
    assert compare_results({"x": float("nan")}, {"x": float("nan")}) == []


def test_a_changed_number_string_or_boolean_is_a_difference_with_its_path_and_both_values():
    new = copy()
    new["table"]["ours"]["mAP"] = 0.8 + 1e-6
    new["dataset"] = "synth-tiny"
    new["claims"][1]["called"] = 0  # a boolean is not a number
    assert compare_results(COMMITTED, new) == [
        (("claims", 1, "called"), False, 0),
        (("dataset",), "synth-small", "synth-tiny"),
        (("table", "ours", "mAP"), 0.8, 0.8 + 1e-6)]


def test_a_key_on_one_side_only_is_a_difference():
    missing, extra = copy(), copy()
    del missing["table"]["baseline"]
    extra["table"]["ours"]["mINP"] = 0.2
    assert compare_results(COMMITTED, missing) == [(("table", "baseline"), COMMITTED["table"]["baseline"], MISSING)]
    assert compare_results(COMMITTED, extra) == [(("table", "ours", "mINP"), MISSING, 0.2)]
    assert compare_results({"a": {"b": 1}}, {"a": [1]}) == [(("a",), {"b": 1}, [1])]  # another type


def test_nested_lists_of_dicts_are_compared_item_by_item_and_by_length():
    new = copy()
    new["claims"][1]["diff"] = 0.5
    assert compare_results(COMMITTED, new) == [(("claims", 1, "diff"), 0.4, 0.5)]
    shorter = copy()
    shorter["claims"] = shorter["claims"][:1]
    assert compare_results(COMMITTED, shorter) == [(("claims",), "a list of 2", "a list of 1")]
    deep = {"rows": [{"cmc": [0.1, 0.2, [0.3]]}]}
    assert compare_results(deep, {"rows": [{"cmc": [0.1, 0.2, [0.31]]}]}) == [(("rows", 0, "cmc", 2, 0), 0.3, 0.31)]


def test_volatile_keys_are_ignored_and_nothing_else():
    old = {"costs": {"FA-Net": {"images / s": 955.2, "GFLOPs / image": 0.112}, "FTN": {"images / s": 952.1}}}
    new = {"costs": {"FA-Net": {"images / s": 610.0, "GFLOPs / image": 0.113}, "FTN": {"images / s": 1200.0}}}
    assert compare_results(old, new, VOLATILE["comparison"]) == [
        (("costs", "FA-Net", "GFLOPs / image"), 0.112, 0.113)]
    assert len(compare_results(old, new)) == 3
    assert compare_results({"a": {"b": [1, 2]}}, {"a": {"b": [3]}}, [("a",)]) == []  # a path covers what is under it


def test_volatile_names_results_files_that_a_notebook_writes():
    written = {name for nb in NOTEBOOKS_DIR.glob("*.ipynb") for name in notebooks.results_written(nb)}
    assert set(VOLATILE) <= written
    assert all(isinstance(p, tuple) and p for paths in VOLATILE.values() for p in paths)


def test_key_paths_read_as_python_subscripts():
    assert key_path(("costs", "FA-Net", "images / s")) == 'costs["FA-Net"]["images / s"]'
    assert key_path(("claims", 1, "diff")) == 'claims[1]["diff"]'
    assert key_path(()) == "(the whole file)"


def test_the_notebooks_that_write_more_than_one_results_file_are_found():
    assert notebooks.results_written(NOTEBOOKS_DIR / "datasets.ipynb") == ["datasets", "datasets_real"]
    assert notebooks.results_written(NOTEBOOKS_DIR / "synthreid.ipynb") == [
        "synthreid", "synthreid_realism", "synthreid_vs_cuhk01"]
    assert notebooks.results_written(NOTEBOOKS_DIR / "fmn.ipynb") == ["fmn"]


def test_failed_cells_are_numbered_as_in_the_source_notebook(tmp_path):
    nb = nbformat.v4.new_notebook()
    error = nbformat.v4.new_output("error", ename="MissingRunError", evalue="verify mode: not recorded\nmore",
                                   traceback=[])
    nb.cells = [nbformat.v4.new_markdown_cell("An Exception was encountered", metadata={"tags": ["papermill-error-cell-tag"]}),
                nbformat.v4.new_code_cell("read_records_only('x')", metadata={"tags": [notebooks.PRELUDE_TAG]}),
                nbformat.v4.new_markdown_cell("# title"),
                nbformat.v4.new_code_cell("profile = 'ci'", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("profile = 'cpu'", metadata={"tags": ["injected-parameters"]}),
                nbformat.v4.new_code_cell("\nruns = run_variants(...)\n", outputs=[error])]
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, path)
    assert notebooks.failed_cells(path) == [
        {"cell": 2, "source": "runs = run_variants(...)", "error": "MissingRunError: verify mode: not recorded"}]


def test_verify_is_for_the_studies_and_alone():
    with pytest.raises(SystemExit, match="nbval"):
        notebooks.main(["--verify", "--profile", "ci"])
    with pytest.raises(SystemExit, match="--partial"):
        notebooks.main(["--verify", "--profile", "cpu", "--partial"])


@pytest.fixture
def recorded_run(tmp_path, monkeypatch):
    """A cpu run whose folder exists on this machine, with a record holding one score, in a scratch repository."""
    monkeypatch.setattr(records, "results_dir", lambda profile: tmp_path / "results" / profile)
    out = tmp_path / "runs" / "ide" / "cpu-synth-small-s0-abcdef12"
    out.mkdir(parents=True)
    (out / "checkpoint.pt").write_bytes(b"")  # the run folder is here: the check must not use it
    run = {"method": "ide", "profile": "cpu", "seed": 0, "fingerprint": "abcdef12", "rank1": 0.5,
           "output_dir": str(out)}
    path = tmp_path / "results" / "cpu" / "runs" / "ide" / f"{out.name}.json"
    path.parent.mkdir(parents=True)
    recorded = score_key("evaluate", ["data.test_background=mean_background"])
    path.write_text(json.dumps({"format": FORMAT, "run": out.name, "results": run,
                                "scores": {recorded: {"rank1": 0.4}}}))
    monkeypatch.setenv("REIDLIB_VERIFY", "1")
    return run, path


def test_verify_mode_reads_recorded_scores_and_never_computes(recorded_run):
    run, path = recorded_run
    before = path.read_text()
    assert evaluate_run(run, ["data.test_background=mean_background"]) == {"rank1": 0.4}

    def compute():
        raise AssertionError("verify mode computed a score")

    with pytest.raises(MissingRunError, match="not recorded.*has no score.*only reads"):
        records._memo(run, score_key("evaluate", ["data.test_background=background_only"]), compute)
    with pytest.raises(MissingRunError, match="has no score"):
        evaluate_run(run, {"eval.rerank": True})  # would load the run folder's checkpoint outside verify mode
    assert path.read_text() == before  # nothing recorded

    other = {**run, "output_dir": run["output_dir"].replace("-s0-", "-s1-")}
    with pytest.raises(MissingRunError, match="it has no record"):
        records._memo(other, score_key("evaluate"), compute)


def test_outside_verify_mode_the_same_score_is_computed_and_recorded(recorded_run, monkeypatch):
    run, path = recorded_run
    monkeypatch.delenv("REIDLIB_VERIFY")
    key = score_key("evaluate", ["data.test_background=background_only"])
    assert records._memo(run, key, lambda: {"rank1": 0.1}) == {"rank1": 0.1}
    assert json.loads(path.read_text())["scores"][key] == {"rank1": 0.1}


def test_verify_mode_loads_kept_weights_to_draw_only(recorded_run):
    run, path = recorded_run
    records.weights_path(path).write_bytes(b"")
    with pytest.raises(MissingRunError, match="kept weights"):
        records.kept_weights(run["output_dir"])  # load_run(...).evaluate() would score from them
    token = records._drawing.set(True)  # inside load_for_pictures
    try:
        assert records.kept_weights(run["output_dir"]) == records.weights_path(path)
    finally:
        records._drawing.reset(token)


def test_in_the_kernel_verify_mode_hides_the_run_folders_and_refuses_to_train(tmp_path, monkeypatch):
    from reidlib.engine import make_config, train, trainer

    monkeypatch.setattr(trainer, "RUNS_DIR", trainer.RUNS_DIR)  # (restored after the test)
    monkeypatch.setattr(trainer.Trainer, "_fit", trainer.Trainer._fit)
    monkeypatch.setattr(records, "results_dir", lambda profile: tmp_path / "results" / profile)
    records.read_records_only(tmp_path / "empty" / "runs")
    cfg = make_config("ide", "cpu", "synth-small", seed=0, overrides=["progress=false"])
    assert trainer.default_output_dir(cfg).parent.parent == tmp_path / "empty" / "runs"
    with pytest.raises(MissingRunError, match="trains nothing.*has no record"):
        train(cfg)
    assert not (tmp_path / "results").exists()


def test_runs_without_a_record_are_named_for_the_report(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(records, "results_dir", lambda profile: tmp_path / "results" / profile)
    out = tmp_path / "runs" / "fmn" / "cpu-synth-small-s2-0123abcd"
    assert records.recorded_results("fmn", "cpu", out, "0123abcd") is None
    assert capsys.readouterr().err == ""  # said in verify mode only
    monkeypatch.setenv("REIDLIB_VERIFY", "1")
    assert records.recorded_results("fmn", "cpu", out, "0123abcd") is None
    err = capsys.readouterr().err
    assert err.strip() == f"{records.NO_RECORD} fmn/cpu-synth-small-s2-0123abcd"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("runs = ...", outputs=[nbformat.v4.new_output("stream", name="stderr", text=err * 2)])]
    nbformat.write(nb, tmp_path / "x.ipynb")
    assert notebooks.missing_records(tmp_path / "x.ipynb") == ["fmn/cpu-synth-small-s2-0123abcd"]


def test_cell_times_are_read_from_papermill_and_numbered_as_in_the_source(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import torch", metadata={"tags": [notebooks.PRELUDE_TAG],
                                                                    "papermill": {"duration": 11.5}}),
                nbformat.v4.new_markdown_cell("# title"),
                nbformat.v4.new_code_cell("parser = cached_parts()", metadata={"papermill": {"duration": 390.0}})]
    nbformat.write(nb, tmp_path / "x.ipynb")
    assert notebooks.cell_times(tmp_path / "x.ipynb") == [(11.5, "prelude", "import torch"),
                                                         (390.0, 1, "parser = cached_parts()")]

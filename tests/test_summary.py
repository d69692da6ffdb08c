"""The landing page's claim table, gathered from chapters' saved results."""

import pytest

import reidlib.results
from reidlib import summary
from reidlib.results import save_results


def claim(label, verdict):
    return {"claim": label, "metric": "rank1", "paper": 1.0, "ours": 2.0, "low": 0.5, "high": 3.5, "seeds": 3,
            "verdict": verdict, "size": "same size"}


@pytest.fixture
def results_root(tmp_path, monkeypatch):
    monkeypatch.setattr(reidlib.results, "results_dir", lambda profile, root=None: tmp_path / profile)
    return tmp_path


def test_claims_come_from_each_chapters_largest_profile(results_root):
    save_results("fanet", {"dataset": "synth-tiny", "table1_claims": [claim("a", "inconclusive")]}, "ci",
                 results_root / "ci")
    save_results("fanet", {"dataset": "synth-small", "table1_claims": [claim("a", "reproduced")],
                           "k_claims": [claim("b", "not reproduced")]}, "cpu", results_root / "cpu")
    save_results("bgbias", {"findings": {"cuhk01": [claim("c", "reproduced")]}}, "ci", results_root / "ci")
    claims = summary.all_claims()
    assert sorted(claims["claim"]) == ["a", "b", "c"]
    fanet = claims[claims["chapter"] == "fanet"]
    assert set(fanet["profile"]) == {"cpu"} and set(fanet["dataset"]) == {"synth-small"}
    assert set(fanet["where"]) == {"table 1", "k sweep"}
    assert claims.loc[claims["claim"] == "c", "dataset"].item() == "cuhk01"
    counts = summary.verdict_counts(claims)
    assert counts.loc["fanet", ["reproduced", "not reproduced", "inconclusive"]].tolist() == [1, 1, 0]
    assert counts.loc["ftn", "profile"] == "not run" and counts.loc["ftn", "claims"] == 0


def test_a_claim_record_missing_a_field_names_the_chapter(results_root):
    bad = claim("a", "reproduced")
    del bad["low"]
    save_results("ftn", {"table1_claims": [bad]}, "ci", results_root / "ci")
    with pytest.raises(ValueError, match=r"table1_claims.*ftn.*low"):
        summary.chapter_claims("ftn")
    with pytest.raises(ValueError, match="unknown chapter"):
        summary.chapter_claims("nope")


def test_provenance_names_the_largest_committed_profile_and_the_command(results_root):
    from reidlib.results import provenance

    assert "No committed results" in provenance("fanet", "ci")
    save_results("fanet", {}, "ci", results_root / "ci")
    assert "`ci` profile" in provenance("fanet", "ci")
    save_results("fanet", {}, "cpu", results_root / "cpu")
    (results_root / "cpu" / "fanet.run.json").write_text('{"git_commit": "0123456789abcdef", "device": "cpu: test"}')
    text = provenance("fanet", "ci")
    assert "`cpu` profile" in text and "0123456789" in text and "--profile cpu --only fanet" in text
    assert "`ci`" not in provenance("fanet", "cpu").split("come from")[1][:8]


def test_comparison_verdicts_read_the_comparison_chapter(results_root):
    assert summary.comparison_verdicts().empty
    save_results("comparison", {"vs_baseline": [
        {"entry": "FA-Net", "metric": "rank1", "difference": 2.0, "low": 0.5, "high": 3.5, "seeds": 3,
         "verdict": "better"},
        {"entry": "FA-Net", "metric": "mAP", "difference": -0.2, "low": -1.0, "high": 0.6, "seeds": 3,
         "verdict": "no difference called"}]}, "cpu", results_root / "cpu")
    table = summary.comparison_verdicts()
    assert table.loc["FA-Net", "rank1"] == "better (+2.0 [+0.5, +3.5])"
    assert table.loc["FA-Net", "profile"] == "cpu"
    assert list(table.columns) == ["profile", "rank1", "mAP"]  # no per-seed results saved: no background questions


def test_comparison_verdicts_add_the_background_questions(results_root):
    base = "baseline (IDE)"
    per_seed = {base: [0.5, 0.5, 0.5], "FA-Net": [0.6, 0.6, 0.6]}
    loses = {base: 0.3, "FA-Net": 0.1}  # rank-1 lost on random backgrounds
    save_results("comparison", {
        "vs_baseline": [{"entry": "FA-Net", "metric": "rank1", "difference": 10.0, "low": 8.0, "high": 12.0,
                         "seeds": 3, "verdict": "better"}],
        "main": {label: [{"seed": s, "rank1": v, "num_valid_queries": 1000} for s, v in enumerate(vs)]
                 for label, vs in per_seed.items()},
        "robustness": [{"entry": label, "seed": s, "test": test, "num_valid_queries": 1000,
                        "rank1": v - (loses[label] if test != "original" else 0)}
                       for label, vs in per_seed.items() for s, v in enumerate(vs)
                       for test in ("original", "random_background")]}, "cpu", results_root / "cpu")
    table = summary.comparison_verdicts()
    assert list(table.columns) == ["profile", "rank1", "random-background drop"]
    assert table.loc["FA-Net", "random-background drop"].startswith("better (+20.0 [+7.1, +32.9]")


def test_comparison_baseline_learning_averages_the_chapters_records(results_root):
    assert summary.comparison_baseline_learning().empty
    save_results("comparison", {"vs_baseline": []}, "cpu", results_root / "cpu")
    assert summary.comparison_baseline_learning().empty  # a chapter without real-data records
    rows = [{"dataset": "cuhk01", "seed": s, "first epoch": 6.2, "last epoch": 5.9 + 0.1 * s,
             "uniform guess ln(N)": 6.0, "rank1": 0.01, "chance rank1": 0.002} for s in range(3)]
    save_results("comparison", {"real": {"learning": rows}}, "cpu", results_root / "cpu")
    table = summary.comparison_baseline_learning()
    assert list(table.index) == ["cuhk01"]
    assert table.loc["cuhk01", "last epoch"] == pytest.approx(6.0)
    assert table.loc["cuhk01", "loss fall (% of ln N)"] == pytest.approx(100 * 0.2 / 6.0)
    assert table.loc["cuhk01", "rank1"] == pytest.approx(1.0)  # percent
    assert table.loc["cuhk01", "times chance"] == pytest.approx(5.0)


def test_the_background_bias_chapters_real_data_findings_are_counted(results_root):
    save_results("bgbias", {"findings": {"synth-small": [claim("a", "inconclusive")]},
                            "findings_real": {"cuhk01": [claim("b", "withdrawn")]}}, "cpu", results_root / "cpu")
    claims = summary.chapter_claims("bgbias")
    assert dict(zip(claims["claim"], claims["dataset"])) == {"a": "synth-small", "b": "cuhk01"}
    assert summary.verdict_counts(claims).loc["bgbias", "withdrawn"] == 1


def test_claims_by_chapter_gives_each_chapter_a_compact_table_and_its_plotted_claims(results_root):
    withdrawn = {**claim("w", "withdrawn"), "ours": float("nan"), "low": float("nan"), "high": float("nan")}
    save_results("fanet", {"dataset": "synth-small", "table1_claims": [claim("a", "reproduced"), withdrawn]}, "cpu",
                 results_root / "cpu")
    save_results("bgbias", {"findings": {"synth-small": [claim("b", "inconclusive")],
                                         "cuhk01": [claim("b", "inconclusive")]}}, "cpu", results_root / "cpu")
    by_chapter = summary.claims_by_chapter(summary.all_claims())
    assert list(by_chapter) == ["bgbias", "fanet"]  # the landing page's chapter order
    setting, table, plotted = by_chapter["fanet"]
    assert setting == "synth-small, cpu"
    assert list(table.columns) == summary.LANDING_COLUMNS
    assert table["claim"].tolist() == ["table 1: a", "table 1: w"]
    assert table["95 % interval"].tolist() == ["[+0.5, +3.5]", ""]
    assert plotted[["paper delta", "ours", "low", "high"]].iloc[0].tolist() == [1.0, 2.0, 0.5, 3.5]
    # One finding asked on two datasets: each row says which.
    assert sorted(by_chapter["bgbias"][1]["claim"]) == ["Fig. 3 findings (cuhk01): b",
                                                       "Fig. 3 findings (synth-small): b"]


def test_chapter_findings_counts_the_verdicts_and_lists_what_was_and_was_not_reproduced(results_root):
    save_results("fanet", {"dataset": "synth-small", "table1_claims": [
        claim("+A raises mAP", "reproduced"), claim("+B raises mAP", "not reproduced"),
        {**claim("+C raises mAP", "inconclusive"), "paper": float("nan")}]}, "cpu", results_root / "cpu")
    text = summary.chapter_findings("fanet")
    assert text.startswith("On synth-small (cpu profile), 3 of the paper's claims were put to rule v2: "
                           "1 reproduced, 1 not reproduced, 1 inconclusive.")
    assert "Reproduced: table 1: +A raises mAP (paper +1.0, ours +2.0)." in text
    assert "Not reproduced: table 1: +B raises mAP (paper +1.0, ours +2.0)." in text
    assert "+C" not in text
    with pytest.raises(FileNotFoundError):
        summary.chapter_findings("ftn")  # a chapter never run: the notebook says so by failing, not by a blank

import numpy as np
import pytest

from reidlib.ablation import Claim, judge, metric_table
from reidlib.claims import compare, sampling_variance


def test_verdicts_follow_rule_v2_a_t_interval_on_the_papers_side():
    # differences 10, 9, 11: mean 10, se 1/sqrt(3), t(0.975, 2) = 4.303 -> [7.52, 12.48]
    r = compare([0.0, 0.0, 0.0], [10.0, 9.0, 11.0], paper_delta=1.2)
    assert r["verdict"] == "reproduced" and r["size"] == "larger"
    assert (r["low"], r["high"]) == (pytest.approx(10 - 4.3027 / 3 ** 0.5, abs=1e-3), pytest.approx(10 + 4.3027 / 3 ** 0.5, abs=1e-3))
    assert compare([0.0, 0.0, 0.0], [10.0, 9.0, 11.0], paper_delta=10.0)["size"] == "same size"
    assert compare([0.0, 0.0, 0.0], [10.0, 9.0, 11.0], paper_delta=30.0)["size"] == "smaller"
    assert compare([10.0, 9.0, 11.0], [0.0, 0.0, 0.0], paper_delta=1.2)["verdict"] == "not reproduced"
    assert compare([0.5, 0.5], [0.9, 0.9], paper_delta=1.0)["verdict"] == "inconclusive"  # fewer than 3 seeds
    with pytest.raises(ValueError, match="paired"):
        compare([1, 2, 3], [1, 2], 1.0)


def test_two_standard_errors_no_longer_suffice_with_three_seeds():
    # mean 2, se 0.577: beyond 2 se (rule v1 said reproduced), inside t(2) = 4.3 se
    r = compare([0.0, 0.0, 0.0], [1.0, 3.0, 2.0], paper_delta=1.0)
    assert r["ours"] > 2 * r["se"] and r["verdict"] == "inconclusive"


def test_the_test_sets_error_keeps_identical_seeds_from_a_zero_error():
    # 4 of 527 queries better in all three seeds: the seeds alone give a standard error of 0
    runs = {"a": [{"seed": s, "rank1": 0.5, "mAP": 0.4, "num_valid_queries": 527} for s in range(3)],
            "b": [{"seed": s, "rank1": 0.5 + 4 / 527, "mAP": 0.4 + 4 / 527, "num_valid_queries": 527} for s in range(3)]}
    row = judge(runs, [Claim("b helps", "a", "b", "mAP", 1.0)]).loc["b helps"]
    binomial = 1e4 * (0.4 * 0.6 / 527 + (0.4 + 4 / 527) * (0.6 - 4 / 527) / 527)  # points^2, both sides
    assert row["verdict"] == "inconclusive" and row["test error"] == "binomial over queries"
    assert row["high"] - row["ours"] == pytest.approx(4.3027 * binomial ** 0.5, rel=1e-3)
    assert row["rank-1 ours"] == pytest.approx(100 * 4 / 527)


def test_per_query_variance_matches_a_bootstrap_over_query_identities():
    rng = np.random.default_rng(0)
    pids = np.repeat(np.arange(60), rng.integers(1, 6, 60))  # 60 identities, 1 to 5 queries each
    ap_a = rng.random(len(pids))
    ap_b = np.clip(ap_a + 0.1 * rng.standard_normal(len(pids)) + 0.05 * (pids % 3), 0, 1)
    per = lambda ap: {"per_query": {"query": list(range(len(pids))), "pid": pids.tolist(), "ap": ap.tolist(),
                                    "first_rank": [1] * len(pids)}}
    var, how = sampling_variance(per(ap_a), per(ap_b), "mAP")
    assert how == "per query, by identity"
    # An independent estimate: resample identities with replacement, many times.
    ids, diff = np.unique(pids), 100 * (ap_b - ap_a)
    members = [np.flatnonzero(pids == i) for i in ids]
    draws = [diff[np.concatenate([members[j] for j in rng.integers(0, len(ids), len(ids))])].mean()
             for _ in range(4000)]
    assert var == pytest.approx(np.var(draws), rel=0.1)


def test_a_claim_is_not_testable_where_its_baseline_did_not_learn_and_withdrawn_without_records():
    runs = {"a": [{"seed": s, "rank1": 0.015, "num_valid_queries": 486} for s in range(3)],
            "b": [{"seed": s, "rank1": 0.2 + 0.01 * s, "num_valid_queries": 486} for s in range(3)],
            "c": [{"seed": 0, "rank1": 0.3, "num_valid_queries": 486}]}
    table = judge(runs, [Claim("b beats a", "a", "b", "rank1", 5.0), Claim("c beats b", "b", "c", "rank1", 1.0)],
                  seeds=[0, 1, 2], chance=0.0023)
    assert table.loc["b beats a", "verdict"] == "not testable here" and "did not learn" in table.loc["b beats a", "note"]
    assert table.loc["c beats b", "verdict"] == "withdrawn" and "1 of 3 seeds" in table.loc["c beats b", "note"]
    # the same claim with a learned baseline is judged
    assert judge(runs, [Claim("b beats a", "a", "b", "rank1", 5.0)], chance=0.001).loc["b beats a", "verdict"] == "reproduced"


def test_a_claim_read_off_a_figure_has_a_direction_only():
    r = compare([0.50, 0.52, 0.51], [60.0, 61.0, 62.0], paper_delta=None, direction=+1)
    assert r["verdict"] == "reproduced" and r["paper"] != r["paper"] and r["size"] is None  # NaN
    with pytest.raises(ValueError, match="direction"):
        compare([1, 2, 3], [1, 2, 3], paper_delta=None)


def test_judge_pairs_runs_by_seed():
    runs = {"a": [{"seed": s, "rank1": v, "num_valid_queries": 10 ** 6} for s, v in ((0, 0.5), (1, 0.52), (2, 0.51))],
            "b": [{"seed": s, "rank1": v, "num_valid_queries": 10 ** 6} for s, v in ((2, 0.62), (0, 0.60), (1, 0.61))]}
    table = judge(runs, [Claim("b helps", "a", "b", "rank1", 1.5)])
    assert table.loc["b helps", "verdict"] == "reproduced"
    assert table.loc["b helps", "ours"] == pytest.approx(10.0)
    assert metric_table(runs, ("rank1",)).loc["b", "rank1 mean"] == pytest.approx(0.61)


def test_paper_value_reads_one_transcribed_number_and_names_what_is_missing():
    from reidlib.papers import reported, value

    row = reported("fanet").iloc[0]
    assert value("fanet", row["table"], row["row"], row["metric"], row["dataset"]) == float(row["value"])
    with pytest.raises(KeyError, match="no table .* has rows"):
        value("fanet", row["table"], "no such row", row["metric"], row["dataset"])


def test_mean_std_formats_a_metric_table_in_percent():
    from reidlib.ablation import mean_std, metric_table

    table = metric_table({"a": [{"rank1": 0.5}, {"rank1": 0.7}]}, ("rank1",))
    assert mean_std(table, "rank1") == ["60.0 ± 14.1"]


def test_claims_table_restores_the_judge_column_order_and_rounds(tmp_path):
    import json

    from reidlib.ablation import claims_table

    runs = {"base": [{"seed": s, "rank1": r, "num_valid_queries": 500} for s, r in ((0, 0.400001), (1, 0.5), (2, 0.6))],
            "new": [{"seed": s, "rank1": r, "num_valid_queries": 500} for s, r in ((0, 0.45), (1, 0.56), (2, 0.66))]}
    judged = judge(runs, [Claim("new beats base", "base", "new", "rank1", 2.0)])
    # Through a results file, as chapters read them: JSON sorts the keys.
    path = tmp_path / "r.json"
    path.write_text(json.dumps(judged.reset_index().to_dict(orient="records"), sort_keys=True))
    table = claims_table(json.loads(path.read_text()))
    assert list(table.columns) == ["metric", "paper", "ours", "95 % interval", "seeds", "verdict", "size",
                                   "test error"]  # (the note, empty in every row, is left out)
    assert table.loc["new beats base", "ours"] == 5.7  # (4.9999 + 6 + 6) / 3 points, to 1 digit
    assert table.loc["new beats base", "verdict"] == judged.loc["new beats base", "verdict"]


def test_claims_table_pairs_the_rank1_differences_and_blanks_what_a_claim_lacks():
    from reidlib.ablation import claims_table

    nan = float("nan")
    records = [{"claim": "a", "metric": "mAP", "paper": 1.04, "ours": 2.0, "low": 0.5, "high": 3.5, "seeds": 3,
                "verdict": "reproduced", "size": "same size", "rank-1 paper": 1.5, "rank-1 ours": 2.25},
               {"claim": "b", "metric": "mAP", "paper": nan, "ours": nan, "low": nan, "high": nan, "seeds": 0,
                "verdict": "withdrawn", "size": None, "rank-1 paper": 0.8, "rank-1 ours": nan}]
    for r in records:
        r["note"] = ""  # (empty in every row: left out)
    table = claims_table(records)
    assert list(table.columns) == ["metric", "paper", "ours", "95 % interval", "seeds", "verdict", "size",
                                   "rank-1 paper / ours"]
    assert table.loc["a"].tolist() == ["mAP", 1.0, 2.0, "[+0.5, +3.5]", 3, "reproduced", "same size", "1.5 / 2.2"]
    assert table.loc["b"].tolist() == ["mAP", "", "", "", 0, "withdrawn", "", "0.8"]


def test_a_claim_of_a_small_effect_fails_when_all_of_ours_is_beyond_its_bound():
    # "costs a little" (paper: -2.5 points, bound 5): a 37-point cost has the sign but not the size.
    big = compare([80.0, 79.0, 81.0], [43.0, 42.5, 44.0], paper_delta=-2.5, at_most=5.0)
    assert big["verdict"] == "not reproduced" and big["ours"] == pytest.approx(-36.83, abs=0.01)
    assert compare([80.0, 79.0, 81.0], [43.0, 42.5, 44.0], paper_delta=-2.5)["verdict"] == "reproduced"  # sign alone
    small = compare([80.0, 79.0, 81.0], [77.0, 76.5, 78.5], paper_delta=-2.5, at_most=5.0)
    assert small["verdict"] == "reproduced" and small["size"] == "same size"
    # Partly beyond the bound: neither verdict
    straddles = compare([80.0, 79.0, 81.0], [75.0, 74.0, 77.5], paper_delta=-2.5, at_most=5.0)
    assert straddles["low"] < -5.0 < straddles["high"] < 0 and straddles["verdict"] == "inconclusive"
    with pytest.raises(ValueError, match="at_most"):
        compare([1, 2, 3], [1, 2, 3], paper_delta=-1.0, at_most=-1.0)


def test_show_claims_displays_the_dot_plot_then_returns_the_table(monkeypatch):
    import IPython.display
    import matplotlib.figure

    from reidlib.ablation import claims_table, show_claims

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *objects: shown.extend(objects))
    records = [{"claim": "a", "metric": "rank1", "paper": 1.0, "ours": 2.0, "low": 0.5, "high": 3.5, "seeds": 3,
                "verdict": "reproduced", "size": "same size"}]
    table = show_claims(records)
    assert len(shown) == 1 and isinstance(shown[0], matplotlib.figure.Figure)
    assert table.equals(claims_table(records))

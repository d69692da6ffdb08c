"""reidlib.viz: the grid helpers the chapters draw their pictures with."""

import matplotlib.pyplot as plt

from reidlib.viz import finish_rows


def test_finish_rows_labels_the_first_column_and_clears_every_tick():
    fig, axes = plt.subplots(2, 3)
    assert finish_rows(fig, axes, ("image", "mask")) is fig
    assert [ax.get_ylabel() for ax in axes[:, 0]] == ["image", "mask"]
    assert all(ax.get_ylabel() == "" for ax in axes[:, 1:].flat)
    assert all(len(ax.get_xticks()) == 0 and len(ax.get_yticks()) == 0 for ax in axes.flat)
    plt.close(fig)


def test_plot_claims_draws_the_paper_ours_and_the_interval_of_each_claim():
    import math

    import pytest

    from reidlib.viz import VERDICT_COLOURS, plot_claims

    claims = [{"claim": "a", "paper": 1.0, "ours": 2.0, "low": 0.5, "high": 3.5, "verdict": "reproduced"},
              {"claim": "b", "paper": math.nan, "ours": -4.0, "low": -6.0, "high": -2.0, "verdict": "not reproduced"},
              {"claim": "c", "paper": 3.0, "ours": math.nan, "low": math.nan, "high": math.nan, "verdict": "withdrawn"}]
    fig = plot_claims(claims)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]
    lines = [(tuple(line.get_xdata()), tuple(line.get_ydata()), line.get_color()) for line in ax.lines[1:]]
    # claim a at the top (y 2): interval, our dot, the paper's diamond; b (y 1): no diamond; c (y 0): the diamond only
    assert ((0.5, 3.5), (2, 2), VERDICT_COLOURS["reproduced"]) in lines
    assert ((2.0,), (2,), VERDICT_COLOURS["reproduced"]) in lines
    assert [line for line in lines if line[1] == (1,)] == [((-4.0,), (1,), VERDICT_COLOURS["not reproduced"])]
    assert [line[0] for line in lines if line[1] == (0,)] == [(3.0,)]
    plt.close(fig)
    with pytest.raises(ValueError, match="lack"):
        plot_claims([{"claim": "a", "ours": 1.0}])

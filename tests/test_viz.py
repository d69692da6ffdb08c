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

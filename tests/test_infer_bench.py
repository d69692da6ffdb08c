"""The inference benchmark: cost figures and speeds timed in turn."""

import pytest

from reidlib.bench import infer_bench
from reidlib.engine import make_config
from reidlib.engine.trainer import Trainer


@pytest.fixture(scope="module")
def trainers(tmp_path_factory):
    built = {}
    for method in ("ide", "fmn"):
        cfg = make_config(method, "ci", overrides=[f"output_dir={tmp_path_factory.mktemp(method)}", "progress=false",
                                                   "device=cpu"])
        built[method] = Trainer(cfg)
        built[method]._build()
    return built


def test_side_by_side_times_the_models_in_turn_and_keeps_each_ones_median(trainers, monkeypatch):
    alone = infer_bench.figures(trainers["fmn"], batch_size=4, repeats=1)
    order, speeds = [], iter([10.0, 1.0, 30.0, 2.0, 20.0, 9.0])  # ide, fmn, ide, fmn, ide, fmn
    monkeypatch.setattr(infer_bench, "images_per_second",
                        lambda model, batch, repeats: order.append(model) or next(speeds))
    out = infer_bench.figures_side_by_side(trainers, batch_size=4, repeats=1, rounds=3)
    assert order == [trainers["ide"].model, trainers["fmn"].model] * 3
    assert out["ide"]["images / s"] == 20.0 and out["fmn"]["images / s"] == 2.0
    for key in ("parameters (M)", "all parameters (M)", "GFLOPs / image", "batch", "device"):
        assert out["fmn"][key] == alone[key]
    assert out["fmn"]["parameters (M)"] > out["ide"]["parameters (M)"] > 0
    with pytest.raises(ValueError, match="rounds must be at least 1"):
        infer_bench.figures_side_by_side(trainers, rounds=0)


def test_images_per_second_is_a_positive_rate(trainers):
    batch = infer_bench.test_batch(trainers["ide"], 4)
    assert infer_bench.images_per_second(trainers["ide"].model, batch, repeats=2) > 0
    with pytest.raises(ValueError, match="fewer than a batch"):
        infer_bench.test_batch(trainers["ide"], 100_000)

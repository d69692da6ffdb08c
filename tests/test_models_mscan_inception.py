"""MSCAN-body (MGCAM's base network) and the background-bias paper's Inception-style network."""

from __future__ import annotations

import copy
import importlib
import re

import pytest
import torch
import torch.nn.functional as F

from reidlib.models import InceptionReID, MSCANBody, inception_reid, mscan_body

# By module path: the package attribute ``inception_reid`` is the builder, not the module.
mscan_module = importlib.import_module("reidlib.models.mscan")
inception_module = importlib.import_module("reidlib.models.inception_reid")

BUILDERS = {"mscan_body": mscan_body, "inception_reid": inception_reid}
PAPER_SIZE = {"mscan_body": (160, 64), "inception_reid": (96, 96)}
FEATURE_DIM = {"mscan_body": 128, "inception_reid": 256}


def _params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.fixture(scope="module")
def models() -> dict[tuple[str, int], torch.nn.Module]:
    """One model per (builder, in_channels), built once: construction dominates the test time."""
    torch.manual_seed(0)
    return {(name, c): build(in_channels=c) for name, build in BUILDERS.items() for c in (3, 4)}


@pytest.mark.parametrize("name", list(BUILDERS))
@pytest.mark.parametrize("in_channels", [3, 4])
@pytest.mark.parametrize("size", ["paper", (128, 64)])
def test_output_shape(models, name, in_channels, size):
    model = models[name, in_channels].eval()
    hw = PAPER_SIZE[name] if size == "paper" else size
    with torch.no_grad():
        out = model(torch.randn(2, in_channels, *hw))
    assert out.shape == (2, FEATURE_DIM[name]) and model.out_dim == FEATURE_DIM[name]
    assert torch.isfinite(out).all()


def test_mscan_stage_shapes_match_mgcam():
    # MGCAM: the map after stage 2 of a 160x64 input is 96 x 40 x 16.
    model = mscan_body(in_channels=4).eval()
    with torch.no_grad():
        maps = model.forward_stages(torch.randn(1, 4, 160, 64))
    assert [tuple(m.shape[1:]) for m in maps] == [(96, 80, 32), (96, 40, 16), (96, 20, 8), (96, 10, 4)]
    assert model.stage2 is model.stages[1] and model.stage_channels == (96, 96, 96, 96)


def test_mscan_smallest_input():
    for pool in ("grid", "avg"):
        model = mscan_body(pool=pool).eval()
        with torch.no_grad():
            assert model(torch.randn(1, 3, 32, 16)).shape == (1, 128)


def test_mscan_grid_head_is_the_released_2x2_pool_at_160x64():
    x = torch.randn(2, 96, 10, 4)
    assert torch.equal(mscan_body().head[0](x), F.max_pool2d(x, 2))


def test_inception_stage_shapes_match_paper():
    # Paper: 64 x 48 x 48 after the stem; each inception module halves the size; 6x6 before pooling.
    model = inception_reid().eval()
    with torch.no_grad():
        maps = model.forward_stages(torch.randn(1, 3, 96, 96))
    assert [tuple(m.shape[1:]) for m in maps] == [(64, 48, 48), (384, 24, 24), (768, 12, 12), (1536, 6, 6)]
    assert model.stage_channels == (384, 768, 1536)


@pytest.mark.parametrize("name", list(BUILDERS))
@pytest.mark.parametrize("in_channels", [0, 1, 2, 5])
def test_rejects_other_channel_counts(name, in_channels):
    with pytest.raises(ValueError, match="3 \\(RGB\\) or 4"):
        BUILDERS[name](in_channels=in_channels)


@pytest.mark.parametrize("name", list(BUILDERS))
def test_gradient_reaches_first_conv(models, name):
    model = models[name, 4].train()
    model.zero_grad()
    model(torch.randn(2, 4, *PAPER_SIZE[name])).square().mean().backward()
    grad = model.stem[0].weight.grad if name == "mscan_body" else model.stem[0][0].weight.grad
    assert grad is not None and grad.abs().sum() > 0
    model.zero_grad()


def test_mscan_split_equals_forward():
    torch.manual_seed(1)
    model = mscan_body(in_channels=4).eval()
    x = torch.randn(2, 4, 160, 64)
    with torch.no_grad():
        f2 = model.stage2(model.stage1(model.stem(x)))  # MGCAM's attention point
        by_hand = model.head(model.stages[3](model.stages[2](f2)))
        # A stream with its own copy of the last two stages and the head gives the same answer.
        stream = copy.deepcopy(torch.nn.Sequential(*model.stages[2:], model.head))
        assert torch.allclose(by_hand, model(x), atol=1e-6)
        assert torch.allclose(stream(f2), model(x), atol=1e-6)
        assert torch.allclose(model.forward_stages(x)[1], f2)


def test_inception_split_equals_forward():
    torch.manual_seed(1)
    model = inception_reid().eval()
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        f1 = model.inception1(model.stem(x))  # the map the region masks gate
        by_hand = model.head(model.inception3(model.inception2(f1)))
        assert torch.allclose(by_hand, model(x), atol=1e-6)
        # Gating with an all-ones mask (resized to Inception-1's size) changes nothing.
        gate = F.interpolate(torch.ones(2, 1, 96, 96), size=f1.shape[-2:], mode="nearest")
        assert torch.allclose(model.head(model.inception3(model.inception2(f1 * gate))), model(x), atol=1e-6)


@pytest.mark.parametrize("module", [mscan_module, inception_module], ids=["mscan", "inception_reid"])
def test_documented_parameter_counts(module):
    cls = MSCANBody if module is mscan_module else InceptionReID
    documented = re.findall(r"``(\w+\([^`]*\))``: ([\d,]+) parameters", cls.__doc__)
    assert len(documented) >= 2
    for call, count in documented:
        model = eval(call, vars(module))  # e.g. mscan_body(in_channels=4)
        assert _params(model) == int(count.replace(",", "")), call


@pytest.mark.parametrize("name", list(BUILDERS))
def test_deterministic_for_a_seed(name):
    outs = []
    for _ in range(2):
        torch.manual_seed(123)
        model = BUILDERS[name](in_channels=3).eval()
        x = torch.randn(2, 3, *PAPER_SIZE[name])
        with torch.no_grad():
            outs.append(model(x))
    assert torch.equal(outs[0], outs[1])

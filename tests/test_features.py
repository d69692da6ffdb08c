import pytest
import torch

from reidlib.eval import extract_features, pool_tracklet_features


class Halves(torch.nn.Module):
    """(B, 1, 2, 4) images -> (B, 2): the sums of the left and right halves."""

    def forward(self, x):
        return torch.stack([x[..., :2].sum((1, 2, 3)), x[..., 2:].sum((1, 2, 3))], dim=1)


def batches():
    x = torch.arange(16, dtype=torch.float32).view(2, 1, 2, 4)
    return [x, (x + 1, torch.tensor([1, 2])), {"image": x + 2}]


def test_flip_averages_each_image_with_its_mirror():
    f = extract_features(Halves(), batches(), flip=True, normalize=False, progress=False)
    assert f.shape == (6, 2)
    assert torch.allclose(f[:, 0], f[:, 1])  # mirrored halves swap, so their average is symmetric


def test_normalised_and_order_kept():
    f = extract_features(Halves(), batches(), normalize=True, progress=False)
    assert torch.allclose(f.norm(dim=1), torch.ones(6))
    raw = extract_features(Halves(), batches(), normalize=False, progress=False)
    assert raw[0, 0] < raw[2, 0] < raw[4, 0]


def test_model_mode_is_restored():
    model = Halves().train()
    extract_features(model, batches(), progress=False)
    assert model.training


def test_errors():
    with pytest.raises(ValueError, match="empty"):
        extract_features(Halves(), [], progress=False)
    with pytest.raises(ValueError, match="NaN"):
        extract_features(Halves(), [torch.full((1, 1, 2, 4), float("nan"))], progress=False)
    with pytest.raises(KeyError, match="image"):
        extract_features(Halves(), [{"x": torch.zeros(1, 1, 2, 4)}], progress=False)


def test_pool_tracklets():
    feats = torch.tensor([[1.0, 0.0], [3.0, 2.0], [5.0, 5.0], [0.0, 1.0]])
    mean, ids = pool_tracklet_features(feats, [7, 7, 2, 7])
    assert ids.tolist() == [2, 7]
    assert torch.allclose(mean, torch.tensor([[5.0, 5.0], [4 / 3, 1.0]]))
    top, _ = pool_tracklet_features(feats, [7, 7, 2, 7], method="max")
    assert torch.equal(top, torch.tensor([[5.0, 5.0], [3.0, 2.0]]))
    with pytest.raises(ValueError, match="tracklet ids"):
        pool_tracklet_features(feats, [1, 2])


def test_tracklet_records_give_a_tracklets_first_frame_in_the_pooled_order():
    from reidlib.data import Record
    from reidlib.eval import tracklet_records

    frames = [Record("a", 1, 0, 7), Record("b", 1, 0, 7), Record("c", 2, 1, 2), Record("d", 1, 0, 7)]
    _, ids = pool_tracklet_features(torch.zeros(4, 2), [r.tracklet for r in frames])
    assert [r.path for r in tracklet_records(frames)] == ["c", "a"]
    assert [r.tracklet for r in tracklet_records(frames)] == ids.tolist()


def test_extract_features_with_an_embed_callable_mirrors_the_mask_with_the_image():
    import torch

    from reidlib.eval import extract_features

    seen = []

    def embed(batch):  # a feature that depends on where the mask is: its mean column
        seen.append(batch["mask"].clone())
        cols = torch.arange(batch["mask"].shape[-1], dtype=torch.float)
        return (batch["mask"].float().mean(1) * cols).sum(-1, keepdim=True) + batch["image"].sum((1, 2, 3))[:, None] * 0

    mask = torch.zeros(1, 2, 4, dtype=torch.long)
    mask[..., 0] = 1
    batch = {"image": torch.zeros(1, 3, 2, 4), "mask": mask}
    f = extract_features(torch.nn.Identity(), [batch], flip=True, normalize=False, progress=False, embed=embed)
    assert torch.equal(seen[1], mask.flip(-1))
    assert f.item() == (0 + 3) / 2  # the mask's column 0, then column 3 when mirrored


def test_extract_features_refuses_nan_features():
    import pytest
    import torch

    from reidlib.eval import extract_features

    with pytest.raises(ValueError, match="NaN or infinite"):
        extract_features(torch.nn.Identity(), [torch.full((2, 3), float("nan"))], progress=False, normalize=False)

"""How far ImageNet features alone go in re-ID: the check that pretrained weights are pretrained and loaded right.

A backbone that has never seen a re-ID label, its last map average-pooled,
already ranks the same person above others far more often than chance;
the same network from random weights barely does. :func:`untrained_rank1`
measures both on a dataset's test split, which is what a test and the book
use to show that the ImageNet weights of :mod:`reidlib.models.mobilenet` are
really ImageNet's and sit in the right places.
"""

from __future__ import annotations

import os

import torch
from torch.utils.data import DataLoader

from ..data import ReIDImages, build_transforms
from ..data.catalog import open_dataset
from .chance import chance_rank1
from .distance import pairwise_distance
from .features import extract_features
from .rank import evaluate_rank


def untrained_rank1(data_root: str | os.PathLike, pretrained: str | None, dataset: str = "cuhk01",
                    backbone: str = "mobilenetv2", height: int = 128, width: int = 64, seed: int = 0,
                    batch_size: int = 128) -> dict:
    """Rank-1 and mAP of pooled, untrained backbone features on ``dataset``'s query and gallery.

    Args:
        data_root: the dataset's folder.
        pretrained: ``model.pretrained`` of the backbone (``"imagenet"``); None = random init
            (``torch.manual_seed(seed)`` first, so the number repeats).
        dataset, height, width: what is ranked, at which input size.

    Returns:
        ``{"rank1", "mAP", "chance", "queries"}``: cosine distance between L2-normalised,
        average-pooled final maps (no flip), scored by :func:`evaluate_rank` with the
        dataset's own protocol; ``chance`` is :func:`chance_rank1` of the same split.
    """
    from ..models.backbones import build_backbone

    data = open_dataset(dataset, data_root)
    torch.manual_seed(seed)
    net = build_backbone(backbone, pretrained).eval()
    pooled = torch.nn.Sequential(net, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    transform = build_transforms(height, width, train=False)

    def features(records, split):
        loader = DataLoader(ReIDImages(records, transform, split=split, root=data.root), batch_size=batch_size)
        return extract_features(pooled, loader, flip=False, normalize=True, progress=False)

    query, gallery = features(data.query, "query"), features(data.gallery, "gallery")
    scores = evaluate_rank(pairwise_distance(query, gallery, metric="cosine"),
                           [r.pid for r in data.query], [r.pid for r in data.gallery],
                           [r.camid for r in data.query], [r.camid for r in data.gallery])
    return {"rank1": float(scores["cmc"][0]), "mAP": float(scores["mAP"]), "chance": chance_rank1(data),
            "queries": len(data.query)}

"""Losses shared by the methods of the study.

Each is a plain function of tensors, so a method's ``losses`` reads like its
paper's equation: identity cross-entropy and batch-hard triplet (every
method), FA-Net's target attention loss, FTN's gradient and L1
reconstruction losses, MGCAM's attention MSE, region-level triplet and
Siamese contrastive losses, and FMN's ranking loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def identity_loss(logits: torch.Tensor, pids: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """Cross-entropy over training identities, ``(B, num_classes), (B,) -> ()``, with optional label smoothing."""
    return F.cross_entropy(logits.float(), pids, label_smoothing=label_smoothing)


def batch_hard_triplet(features: torch.Tensor, pids: torch.Tensor, margin: float | None = 0.3) -> torch.Tensor:
    """Batch-hard triplet loss (Hermans et al. 2017), ``(B, D), (B,) -> ()``.

    For each anchor, the farthest positive and the nearest negative in the
    batch (Euclidean distance). ``margin=None`` uses the soft margin
    ``log(1 + exp(d_ap - d_an))``. Anchors without a positive or without a
    negative in the batch are a sampler bug, so they raise.
    """
    features = features.float()
    dist = torch.cdist(features, features).clamp_min(1e-12)
    same = pids[:, None] == pids[None, :]
    eye = torch.eye(len(pids), dtype=torch.bool, device=pids.device)
    positives, negatives = same & ~eye, ~same
    if not bool(positives.any(1).all()) or not bool(negatives.any(1).all()):
        raise ValueError("batch-hard triplet needs every identity of the batch at least twice and at least two "
                         "identities: use the identity sampler (data.sampler: identity, num_instances >= 2)")
    d_ap = dist.masked_fill(~positives, float("-inf")).amax(1)
    d_an = dist.masked_fill(~negatives, float("inf")).amin(1)
    if margin is None:
        return F.softplus(d_ap - d_an).mean()
    return F.relu(d_ap - d_an + margin).mean()


def target_attention_loss(fg: torch.Tensor, bg: torch.Tensor, zf: torch.Tensor, variant: str = "full",
                          eps: float = 1e-12) -> torch.Tensor:
    """FA-Net's target attention loss (TAL, Eq. 4-5) and the variants of its Eq. 7.

    Args:
        fg: (B, C, H, W) raw foreground-branch features F.
        bg: (B, C, H, W) raw background-branch features B.
        zf: (B, 1, H, W) soft foreground mask in [0, 1]; 1 - zf is the background mask.
        variant: ``"full"``: mean of F_l2 * (1 - Zf) + B_l2 * Zf, where each channel
            of F and B is divided by its L2 norm over the spatial positions, so
            that the loss cannot fall by shrinking every activation;
            ``"v2"``: the same without the normalisation;
            ``"v1"``: mean of F + B (plain activation regularisation, no mask).
    """
    fg, bg, zf = fg.float(), bg.float(), zf.float()
    if variant == "v1":
        return fg.mean() + bg.mean()
    if variant == "full":
        fg = fg / fg.flatten(2).norm(dim=2).clamp_min(eps)[..., None, None]
        bg = bg / bg.flatten(2).norm(dim=2).clamp_min(eps)[..., None, None]
    elif variant != "v2":
        raise ValueError(f"unknown TAL variant {variant!r}; choose 'full', 'v1' or 'v2'")
    return (fg * (1 - zf) + bg * zf).mean()


def image_gradients(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward differences of ``(B, C, H, W)`` images: horizontal ``(B, C, H, W-1)``, vertical ``(B, C, H-1, W)``.

    ``G^h(x, y) = I(x + 1, y) - I(x, y)`` along the width and ``G^v(x, y) =
    I(x, y + 1) - I(x, y)`` along the height, per channel (FTN, Eq. 3-4).
    """
    return images[..., :, 1:] - images[..., :, :-1], images[..., 1:, :] - images[..., :-1, :]


def gradient_loss(pred: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """FTN's gradient loss (Eq. 2-4): L1 between the image gradients of a reconstruction and of its target.

    Both images are ``(B, 3, H, W)`` (RGB, the paper fixes C = 3). The
    horizontal and the vertical gradient maps of each are forward differences
    (:func:`image_gradients`), and the loss adds the L1 distance of the two
    horizontal maps to that of the two vertical maps.

    Our reading of the printed equations (001:104-117): the text speaks of
    gradient *matrices* compared with an L1 norm, while Eq. 3-4 as printed
    sum squared differences into one number per image (a total-variation
    energy). Comparing two such numbers would only ask the reconstruction to
    be as "busy" as the target, not to put its edges in the same places, so
    we take G^h and G^v to be the per-pixel (signed) difference maps and read
    the sums and squares as a transcription slip.

    reduction: ``"mean"`` (default) averages each L1 distance over its
        entries (B x C x H x (W-1) and B x C x (H-1) x W) so the term has the
        scale of a per-pixel L1 loss and the paper's weight 1 (001:130-134)
        balances it against cross-entropy; ``"sum"`` is Eq. 2 to the letter:
        the L1 norms summed over each image's entries, averaged over the batch.
    """
    if pred.shape != target.shape or pred.dim() != 4:
        raise ValueError(f"gradient_loss needs two (B, C, H, W) images of one shape, got {tuple(pred.shape)} "
                         f"and {tuple(target.shape)}")
    (ph, pv), (th, tv) = image_gradients(pred.float()), image_gradients(target.float())
    if reduction == "mean":
        return (ph - th).abs().mean() + (pv - tv).abs().mean()
    if reduction == "sum":
        return ((ph - th).abs().sum() + (pv - tv).abs().sum()) / pred.shape[0]
    raise ValueError(f"unknown reduction {reduction!r}; choose 'mean' or 'sum'")


def reconstruction_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error between a reconstruction and its target, ``(B, C, H, W) x 2 -> ()`` (FTN's L1 term)."""
    if pred.shape != target.shape:
        raise ValueError(f"reconstruction_l1 needs tensors of one shape, got {tuple(pred.shape)} and "
                         f"{tuple(target.shape)}")
    return F.l1_loss(pred.float(), target.float())


# MGCAM (003, Eq. 5-7)

def attention_mask_loss(body_map: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eq. 5: squared error between Phi+ and the resized mask, summed over the cells, averaged over the batch.

    ``body_map`` and ``target`` are (B, 1, h, w) in [0, 1].
    """
    if body_map.shape != target.shape:
        raise ValueError(f"attention map {tuple(body_map.shape)} and mask {tuple(target.shape)} differ in shape")
    return (body_map.float() - target.float()).pow(2).flatten(1).sum(1).mean()


def region_triplet_loss(h_full: torch.Tensor, h_body: torch.Tensor, h_bgd: torch.Tensor,
                        margin: float = 10.0) -> torch.Tensor:
    """Eq. 6: ``||h_full - h_body||^2 + max(m - ||h_full - h_bgd||^2, 0)``, (B, D) x 3 -> (), batch mean.

    The full-stream feature is the anchor, the body feature the positive and
    the background feature the negative; distances are squared Euclidean.
    """
    h_full, h_body, h_bgd = h_full.float(), h_body.float(), h_bgd.float()
    pull = (h_full - h_body).pow(2).sum(1)
    push = F.relu(margin - (h_full - h_bgd).pow(2).sum(1))
    return (pull + push).mean()


SIAMESE_PAIRS = ("balanced", "all")  # how siamese_loss averages its pairs


def siamese_loss(features: torch.Tensor, pids: torch.Tensor, margin: float = 10.0,
                 pairs: str = "balanced") -> torch.Tensor:
    """Eq. 7 over the unordered pairs (i < j) of a batch of (B, D) features, ``-> ()``.

    A pair of one identity costs its squared distance, a pair of two
    identities ``max(margin - squared distance, 0)``. ``pairs="balanced"``
    averages the positive and the negative pairs separately and then the two
    means (one alone when the batch has pairs of one kind only);
    ``pairs="all"`` averages over all pairs.
    """
    if len(pids) < 2:
        raise ValueError("the Siamese loss needs at least two images in the batch")
    f = features.float()
    d2 = (f[:, None, :] - f[None, :, :]).pow(2).sum(-1)
    upper = torch.ones_like(d2, dtype=torch.bool).triu(1)
    same = pids[:, None] == pids[None, :]
    pos, neg = same & upper, ~same & upper
    pos_cost, neg_cost = d2[pos], F.relu(margin - d2[neg])
    if pairs == "all":
        return torch.cat([pos_cost, neg_cost]).mean()
    if pairs != "balanced":
        raise ValueError(f"unknown pairs {pairs!r}; choose one of {SIAMESE_PAIRS}")
    means = [c.mean() for c in (pos_cost, neg_cost) if c.numel()]
    return torch.stack(means).mean()


# ----------------------------------------------------------------------------- model


# FMN (004, Eq. 5)

def true_class_probability(logits: torch.Tensor, pids: torch.Tensor) -> torch.Tensor:
    """Softmax probability of each sample's identity, ``(B, classes), (B,) -> (B,)``."""
    return logits.float().softmax(1).gather(1, pids[:, None])[:, 0]


def ranking_loss(p_global: torch.Tensor, p_local: torch.Tensor, margin: float = 0.05) -> torch.Tensor:
    """FMN's ranking loss (Eq. 5), ``(B,), (B,) -> ()``: mean of ``max(0, p_G - p_L + margin)``.

    ``p_global`` and ``p_local`` are the GRN's and the LAN's probabilities
    of the true identity. The GRN's is detached: it is the reference the LAN
    has to beat by ``margin``, not something this loss moves.
    """
    return F.relu(p_global.detach().float() - p_local.float() + margin).mean()

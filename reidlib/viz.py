"""Pictures for the book: ranked lists, CMC curves, heat-map tables."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

ROLE_COLOURS = {
    "query": "#4c4c4c",
    "true match": "#2e7d32",
    "same-camera match": "#9e9e9e",
    "junk": "#d7d7d7",
    "distractor": "#ef6c00",
    "wrong match": "#c62828",
}


def plot_ranked_list(table: pd.DataFrame, title: str = "", ax=None, max_items: int = 12):
    """Draw a ranked gallery (from ``reidlib.eval.explain.ranked_gallery``) as coloured tiles.

    Each tile shows the image's identity and camera; its colour is its role;
    removed images are hatched and carry no rank.
    """
    rows = table.head(max_items)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.0 * len(rows) + 1.2, 1.7))
    for x, row in enumerate(rows.itertuples()):
        ax.add_patch(plt.Rectangle((x, 0), 0.9, 1.0, color=ROLE_COLOURS[row.role],
                                   hatch=None if row.counted else "///", alpha=1.0 if row.counted else 0.6))
        ax.text(x + 0.45, 0.62, f"id {row.id}\ncam {row.cam}", ha="center", va="center", color="white", fontsize=8)
        label = "-" if np.isnan(row.rank) else f"#{int(row.rank)}"
        ax.text(x + 0.45, 0.15, label, ha="center", va="center", color="white", fontsize=9, weight="bold")
    ax.set_xlim(-0.1, len(rows))
    ax.set_ylim(0, 1.05)
    ax.axis("off")
    if title:
        ax.set_title(title, loc="left", fontsize=10)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for r, c in ROLE_COLOURS.items() if r != "query"]
    ax.legend(handles, [r for r in ROLE_COLOURS if r != "query"], ncol=5, fontsize=7,
              loc="upper left", bbox_to_anchor=(0, -0.02), frameon=False)
    return ax


def plot_cmc(curves: dict[str, np.ndarray], max_rank: int = 20, ax=None):
    """CMC curves (name -> (R,) array of fractions) against rank 1..max_rank."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.4))
    frame = pd.concat([
        pd.DataFrame({"rank": np.arange(1, min(max_rank, len(c)) + 1), "matching rate": c[:max_rank], "model": name})
        for name, c in curves.items()
    ])
    sns.lineplot(frame, x="rank", y="matching rate", hue="model", marker="o", ax=ax)
    ax.set_ylim(0, 1.01)
    ax.set_xticks([1, 5, 10, 15, 20][: 1 + max_rank // 5])
    ax.grid(alpha=0.3)
    return ax


# Part colours for mask overlays: head, upper body, lower body, accessories (background stays clear).
PART_COLOURS = np.array([[0, 0, 0], [255, 214, 0], [229, 57, 53], [30, 136, 229], [67, 160, 71]], dtype=float)


def overlay_parts(image, labels, alpha: float = 0.5) -> np.ndarray:
    """(H, W, 3) uint8 picture of an image with its part labels tinted in :data:`PART_COLOURS`.

    ``image``: (3, H, W) or (H, W, 3) uint8 / float in [0, 1]; ``labels``: (H, W) ints 0-4.
    """
    img = np.asarray(image, dtype=float)
    if img.ndim == 3 and img.shape[0] in (3, 4) and img.shape[-1] not in (3, 4):
        img = img[:3].transpose(1, 2, 0)
    if img.max() <= 1.0:
        img = img * 255
    labels = np.asarray(labels)
    out = img.copy()
    fg = labels > 0
    out[fg] = (1 - alpha) * img[fg] + alpha * PART_COLOURS[labels[fg]]
    return out.clip(0, 255).astype(np.uint8)


def finish_rows(fig, axes, row_labels):
    """Close a (rows, cols) grid of pictures: ``row_labels`` down the first column, no ticks, tight layout.

    For grids drawn by hand (heat maps over images, masks with their own colour maps); returns the figure.
    """
    for ax, label in zip(axes[:, 0], row_labels):
        ax.set_ylabel(label)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def image_grid(images, titles=None, ncols: int = 8, scale: float = 0.9, row_labels=None):
    """Show (H, W, 3) pictures in a grid; returns the figure."""
    images = list(images)
    nrows = -(-len(images) // ncols)
    h, w = np.asarray(images[0]).shape[:2]
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * scale * w / h * 1.6, nrows * scale * 1.6),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(images):
            ax.imshow(np.asarray(images[i]))
            if titles is not None:
                ax.set_title(titles[i], fontsize=7)
    if row_labels is not None:
        for ax, label in zip(axes[:, 0], row_labels):
            ax.axis("on")
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            ax.set_ylabel(label, fontsize=8)
    fig.tight_layout()
    return fig

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


# One colour per verdict of rule v2 (reidlib.claims.VERDICTS), the same in every chapter's dot plot.
VERDICT_COLOURS = {
    "reproduced": "#2e7d32",
    "not reproduced": "#c62828",
    "inconclusive": "#757575",
    "not testable here": "#bdbdbd",
    "withdrawn": "#bdbdbd",
}


def plot_claims(claims, ax=None, label_width: int = 60):
    """Each claim's difference as the paper reports it and as we measured it, with our 95 % interval.

    ``claims``: judged claim records (:func:`reidlib.ablation.judge`; keys ``claim``, ``paper``, ``ours``,
    ``low``, ``high``, ``verdict``) or a DataFrame with those columns (the landing page's ``paper delta``
    is read as ``paper``). One row per claim, in the given order: a black diamond at the paper's
    difference (none for a claim read as a direction only), a dot at ours coloured by its verdict, and a
    bar for the interval. Differences are in points of the claim's metric; 0 is marked. A withdrawn
    claim has no dot. Returns the figure.
    """
    table = pd.DataFrame(list(claims) if not isinstance(claims, pd.DataFrame) else claims)
    if table.empty:
        raise ValueError("no claims to plot")
    if "paper" not in table and "paper delta" in table:
        table = table.rename(columns={"paper delta": "paper"})
    missing = {"claim", "paper", "ours", "low", "high", "verdict"} - set(table)
    if missing:
        raise ValueError(f"claims lack {sorted(missing)}: pass judged claim records (reidlib.ablation.judge)")
    values = table[["paper", "ours", "low", "high"]].apply(pd.to_numeric, errors="coerce")
    y = np.arange(len(table))[::-1]
    if ax is None:
        _, ax = plt.subplots(figsize=(8.0, 0.3 * len(table) + 1.3))
    ax.axvline(0, color="#9e9e9e", lw=0.8, zorder=0)
    for yi, (_, v), verdict in zip(y, values.iterrows(), table["verdict"]):
        colour = VERDICT_COLOURS.get(verdict, "#757575")
        if np.isfinite(v["low"]) and np.isfinite(v["high"]):
            ax.plot([v["low"], v["high"]], [yi, yi], color=colour, lw=1.6, solid_capstyle="butt")
        if np.isfinite(v["ours"]):
            ax.plot(v["ours"], yi, "o", color=colour, ms=5)
        if np.isfinite(v["paper"]):
            ax.plot(v["paper"], yi, "D", color="black", ms=4, mfc="none", mew=1.2)
    labels = [text if len(text) <= label_width else text[: label_width - 1] + "…" for text in table["claim"].astype(str)]
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_ylim(-0.7, len(table) - 0.3)
    ax.set_xlabel("difference (points)", fontsize=9)
    ax.tick_params(axis="x", labelsize=8)
    ax.grid(axis="x", color="#eeeeee")
    shown = [v for v in VERDICT_COLOURS if v in set(table["verdict"]) and v != "withdrawn"]
    handles = [plt.Line2D([], [], marker="D", ls="", color="black", mfc="none", label="paper")]
    handles += [plt.Line2D([], [], marker="o", color=VERDICT_COLOURS[v], label=f"ours: {v}") for v in shown]
    ax.legend(handles=handles, fontsize=7, frameon=False, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=3)
    ax.figure.tight_layout()
    return ax.figure

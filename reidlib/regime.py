"""The ``market`` regime in tables: what is scaled down from the papers, and where each method cuts MobileNetV2.

The chapter *The papers' setting, scaled down* shows these; they are built
from the code that defines them (:data:`reidlib.models.mobilenet.STAGES`, the
method files' ``papers`` settings, :func:`reidlib.engine.make_config`), so the
book cannot drift from what runs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from .engine import make_config, paper_settings
from .models.mobilenet import LAST_STRIDE_BLOCK, STAGES, MobileNetV2Backbone

# What each ResNet stage is called in the papers, and which method taps, cuts or masks it there.
RESNET_STAGES = {
    "stem": ("conv1 + max pool (Pool1)", "FMN masks its output (Pool1)"),
    "layer1": ("res2 / conv2_x", "FMN masks its output (Res2)"),
    "layer2": ("res3 / conv3_x", ("FA-Net: the last shared stage (its output feeds both branches); "
                                  "FMN masks its output (Res3)")),
    "layer3": ("res4 / conv4_x", ("FA-Net: first stage of its foreground and background branches; FTN: CFA and "
                                  "TF-Dec read its output (the paper's stage 4); FMN masks its output (Res4)")),
    "layer4": ("res5 / conv5_x", (f"last stride 1 on its first block (MobileNetV2 block {LAST_STRIDE_BLOCK}'s "
                                  "depthwise convolution); every method pools its output")),
}


def stage_table(height: int = 128, width: int = 64, last_stride: int = 1) -> pd.DataFrame:
    """One row per stage: the ResNet stage it stands for, its MobileNetV2 blocks, stride, channels and map size.

    Map sizes come from a forward pass of zeros at ``height`` x ``width``.
    """
    net = MobileNetV2Backbone(last_stride=last_stride).eval()
    with torch.no_grad():
        maps = net.forward_stages(torch.zeros(1, 3, height, width))
    rows = []
    for (name, (start, end)), fmap in zip(STAGES.items(), maps):
        resnet, role = RESNET_STAGES[name]
        rows.append({"stage": name, "ResNet-50": resnet,
                     "MobileNetV2 blocks": f"{start}" if end - start == 1 else f"{start}-{end - 1}",
                     "stride": height // fmap.shape[2], "channels": fmap.shape[1],
                     f"map at {height}x{width}": f"{fmap.shape[2]}x{fmap.shape[3]}", "what the methods do here": role})
    return pd.DataFrame(rows).set_index("stage")


def _describe(values: dict) -> dict:
    d, m, o, s = values["data"], values["model"], values["optim"], values["schedule"]
    return {"dataset": d["dataset"], "input (H x W)": f"{d['height']}x{d['width']}",
            "backbone": f"{m['backbone']} ({'ImageNet' if m['pretrained'] else 'from scratch'})",
            "last stride": m["last_stride"],
            "batch (P x K)": (f"{d['batch_size'] // d['num_instances']} x {d['num_instances']}"
                              if d["sampler"] == "identity" else f"{d['batch_size']} random"),
            "optimiser": f"{o['name']} {o['lr']:g}", "epochs": s["epochs"],
            "decays at": ", ".join(str(e) for e in s["milestones"]) or "none"}


def scaled_down_table(method: str = "ide") -> pd.DataFrame:
    """The ``market`` profile's settings beside each paper's own (the ``gpu`` settings) for ``method``."""
    columns = {"this study (market)": _describe(make_config(method, "market").to_dict())}
    for paper in paper_settings(method):
        values = make_config(method, "gpu", paper=paper).to_dict()
        values["data"]["dataset"] = "market1501"  # the papers' main tables; the gpu profile defaults to SynthReID
        columns[f"{paper} (paper)"] = _describe(values)
    return pd.DataFrame(columns)


# What the market profile was built to reach (issue 29): the strong baseline's mean over three seeds,
# flip-averaged features, no re-ranking.
GOALS = {"bot": {"rank1": 0.80, "mAP": 0.60}}


def baseline_rows(runs: dict[str, dict], seeds: list[int]) -> tuple[dict, list]:
    """Per method, the mean and spread of its seeds' scores and costs; methods lacking a seed are listed apart.

    ``runs`` maps a method to :func:`reidlib.engine.run_seeds`'s output. Returns
    ``(summary, withdrawn)``: ``summary[method]`` holds ``rank1 mean`` / ``rank1 std`` (and
    mAP, mINP), ``seeds``, ``train minutes``, ``images/s`` and ``data wait``; ``withdrawn``
    lists each method whose seeds are not all trained yet, with how many are.
    """
    summary, withdrawn = {}, []
    for method, out in runs.items():
        done = out["runs"]
        if len(done) < len(seeds):
            withdrawn.append({"result": f"{method}: the baseline's runs",
                              "reason": f"{len(done)} of {len(seeds)} seeds trained so far"})
            continue
        s = out["summary"]
        summary[method] = {**{f"{k} mean": s[k]["mean"] for k in ("rank1", "mAP", "mINP")},
                           **{f"{k} std": s[k]["std"] for k in ("rank1", "mAP", "mINP")},
                           "seeds": len(done),
                           "train minutes": float(np.mean([r["train_seconds"] for r in done])) / 60,
                           "images/s": float(np.mean([r["images_per_second"] for r in done])),
                           "data wait": float(np.mean([r["data_wait_share"] for r in done]))}
    return summary, withdrawn


def goal_rows(summary: dict) -> list[dict]:
    """``[{"method", "metric", "goal (%)", "ours (%)", "reached"}]`` for each goal of :data:`GOALS` with a result."""
    return [{"method": method, "metric": metric, "goal (%)": 100 * goal,
             "ours (%)": 100 * summary[method][f"{metric} mean"],
             "reached": bool(summary[method][f"{metric} mean"] >= goal)}
            for method, goals in GOALS.items() if method in summary for metric, goal in goals.items()]


def lip_grouping_table() -> pd.DataFrame:
    """LIP's 20 classes and the study part each counts as (:data:`reidlib.data.lip.LIP_TO_STUDY`)."""
    from .data.lip import LIP_CLASSES, LIP_TO_STUDY, SPLIT
    from .data.masks import PART_LABELS

    return pd.DataFrame([{"LIP label": k, "LIP class": name,
                          "study part": ("upper body above the hip line, lower body below" if LIP_TO_STUDY[k] == SPLIT
                                         else PART_LABELS[LIP_TO_STUDY[k]])}
                         for k, name in LIP_CLASSES.items()]).set_index("LIP label")


def parser_tables(scores: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-part IoU on the held-out identities, foreground IoU on Penn-Fudan beside the shipped segmenter).

    ``scores`` is :func:`reidlib.data.market_parser.evaluate_market_parser`'s output, with ``pennfudan``.
    """
    held = pd.DataFrame({"IoU (%)": {part: 100 * v for part, v in scores["held_out"]["iou"].items()
                                     if v is not None}})
    held.index.name = (f"part ({scores['held_out_images']} images of {scores['held_out_identities']} "
                       "held-out identities, LIP pseudo-labels)")
    p = scores["pennfudan"]
    penn = pd.DataFrame({
        "trained on": {"MobileNetV2 parser (this chapter)": "Market-1501 LIP maps",
                       "person segmenter (shipped)": "Penn-Fudan, other scenes"},
        "foreground IoU (%)": {"MobileNetV2 parser (this chapter)": 100 * p["mobile_parser"]["iou"],
                               "person segmenter (shipped)": 100 * p["person_segmenter"]["iou"]},
        "mean IoU per pedestrian (%)": {"MobileNetV2 parser (this chapter)": 100 * p["mobile_parser"]["mean_iou"],
                                        "person segmenter (shipped)": 100 * p["person_segmenter"]["mean_iou"]}})
    penn.index.name = f"Penn-Fudan, {p['mobile_parser']['pedestrians']} held-out pedestrians (hand-drawn)"
    return held, penn

"""The five papers' own numbers, transcribed from their tables as data.

One CSV per paper (``<name>.csv``): ``table``, ``row``, ``dataset``,
``metric`` (``rank1``, ``mAP``, ... in percent, as printed), ``value`` and
``source`` (``file:line`` in ``../shared/papers``). Chapters put these next
to the study's own numbers; later chapters add the rows they reproduce.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

PAPERS = {
    "fanet": "000_9522135b30cce022.txt",
    "ftn": "001_b20ba497612f67bf.txt",
    "bgbias": "002_78d1ed02bf80c7ea.txt",
    "mgcam": "003_15186faffd031a44.txt",
    "fmn": "004_d1959d3eba50cd60.txt",
}
COLUMNS = ["table", "row", "dataset", "metric", "value", "source"]

# Each paper as a reader of the book finds it (the version the study read, ``PAPERS``).
CITATIONS = {
    "fanet": {"title": "An End-to-End Foreground-Aware Network for Person Re-Identification",
              "authors": "Yiheng Liu, Wengang Zhou, Jianzhuang Liu, Guo-Jun Qi, Qi Tian, Houqiang Li",
              "venue": "IEEE Transactions on Image Processing 30 (arXiv:1910.11547)", "year": 2021},
    "ftn": {"title": "FTN: Foreground-Guided Texture-Focused Person Re-Identification",
            "authors": "Donghaisheng Liu, Shoudong Han, Yang Chen, Chenfei Xia, Jun Zhao",
            "venue": "arXiv:2009.11425", "year": 2020},
    "bgbias": {"title": "Eliminating Background-Bias for Robust Person Re-Identification",
               "authors": "Maoqing Tian, Shuai Yi, Hongsheng Li, Shihua Li, Xuesen Zhang, Jianping Shi, Junjie Yan, "
                          "Xiaogang Wang",
               "venue": "CVPR", "year": 2018},
    "mgcam": {"title": "Mask-guided Contrastive Attention Model for Person Re-Identification",
              "authors": "Chunfeng Song, Yan Huang, Wanli Ouyang, Liang Wang", "venue": "CVPR", "year": 2018},
    "fmn": {"title": "Let Features Decide for Themselves: Feature Mask Network for Person Re-identification",
            "authors": "Guodong Ding, Salman Khan, Zhenmin Tang, Fatih Porikli", "venue": "arXiv:1711.07155",
            "year": 2017},
}


def citation(paper: str) -> str:
    """``paper`` cited by title: "Title", Authors, Venue, Year."""
    if paper not in CITATIONS:
        raise ValueError(f"unknown paper {paper!r}; choose one of {', '.join(CITATIONS)}")
    c = CITATIONS[paper]
    return f"\"{c['title']}\", {c['authors']}, {c['venue']}, {c['year']}"


def reported(paper: str, table: str | None = None, row: str | None = None) -> pd.DataFrame:
    """The transcribed rows of ``paper`` (optionally of one table and row)."""
    if paper not in PAPERS:
        raise ValueError(f"unknown paper {paper!r}; choose one of {', '.join(PAPERS)}")
    df = pd.read_csv(Path(__file__).with_name(f"{paper}.csv"), dtype={"table": str, "row": str})
    if list(df.columns) != COLUMNS:
        raise ValueError(f"{paper}.csv must have the columns {COLUMNS}, it has {list(df.columns)}")
    if table is not None:
        df = df[df["table"] == str(table)]
    if row is not None:
        df = df[df["row"] == row]
    return df.reset_index(drop=True)


def value(paper: str, table: str, row: str, metric: str, dataset: str) -> float:
    """One transcribed number (in percent, as printed): ``value("fanet", "I", "FA-Net", "mAP", "market1501")``.

    A row the paper does not report raises ``KeyError`` naming what was asked and what the table has.
    """
    df = reported(paper, table, row)
    hit = df[(df["metric"] == metric) & (df["dataset"] == dataset)]
    if hit.empty:
        have = reported(paper, table)
        raise KeyError(f"{paper}.csv has no table {table!r}, row {row!r}, {metric} on {dataset}; table {table!r} has "
                       f"rows {sorted(have['row'].unique())}, metrics {sorted(have['metric'].unique())}, "
                       f"datasets {sorted(have['dataset'].unique())}")
    if len(hit) > 1:
        raise ValueError(f"{paper}.csv has {len(hit)} entries for table {table!r}, row {row!r}, {metric} on {dataset}")
    return float(hit["value"].iloc[0])

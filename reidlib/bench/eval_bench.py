"""Speed and peak memory of reidlib.eval at Market-1501 and MSMT17 sizes.

Features are random 2048-d vectors: an identity centre plus Gaussian noise,
with the noise level setting how hard the ranking is (``--difficulty``):
``easy`` ranks like a strong model (rank-1 near 1), ``medium`` like a fair one, ``hard`` like a weak one
(mAP about 0.3), ``random`` has no identity signal at all (the worst case
for the counting step of evaluate_rank). Identities, cameras, junk (-1) and
distractor (0) images follow each dataset's test split sizes.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import resource
import time

from reidlib.eval.synthetic import random_features

SIZES = {
    # queries, gallery, test identities, cameras, junk, distractors
    "market1501": (3368, 15913, 750, 6, 2798, 2793),
    "msmt17": (11659, 82161, 3060, 15, 0, 0),
}
NOISE = {"easy": 2.0, "medium": 3.0, "hard": 3.5, "random": None}


def make_features(size: str, dim: int, difficulty: str, seed: int = 0):
    num_q, num_g, num_ids, num_cams, junk, distract = SIZES[size]
    split = random_features(num_q, num_g, num_ids, num_cams, dim, NOISE[difficulty], junk, distract, seed)
    return (split.query, split.gallery, *split.labels())


def _measure(task: str, size: str, dim: int, difficulty: str, threads: int, queue) -> None:
    import torch

    from reidlib.eval import evaluate_rank, pairwise_distance, re_ranking

    torch.set_num_threads(threads)
    qf, gf, q_ids, g_ids, q_cams, g_cams = make_features(size, dim, difficulty)
    # Warm up the kernels on a small problem so one-off start-up is not timed.
    evaluate_rank(pairwise_distance(qf[:64], gf), q_ids[:64], g_ids, q_cams[:64], g_cams)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = {"task": task, "size": size, "dim": dim, "difficulty": difficulty, "threads": threads}
    t0 = time.perf_counter()
    if task == "evaluate":
        dist = pairwise_distance(qf, gf)
        t1 = time.perf_counter()
        res = evaluate_rank(dist, q_ids, g_ids, q_cams, g_cams)
        t2 = time.perf_counter()
        out.update(distance_s=t1 - t0, metrics_s=t2 - t1, total_s=t2 - t0)
    else:
        dist = re_ranking(qf, gf)
        t1 = time.perf_counter()
        res = evaluate_rank(dist, q_ids, g_ids, q_cams, g_cams)
        out.update(total_s=t1 - t0)
    out.update(
        rank1=float(res["cmc"][0]), mAP=res["mAP"], mINP=res["mINP"],
        peak_rss_gb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        rss_before_gb=rss_before / 2**20,
    )
    queue.put(out)


def measure(task: str, size: str, dim: int, difficulty: str, threads: int) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_measure, args=(task, size, dim, difficulty, threads, queue))
    proc.start()
    proc.join()
    if proc.exitcode != 0:
        raise RuntimeError(f"benchmark {task} at {size} size failed (exit code {proc.exitcode})")
    return queue.get()


def add_arguments(parser) -> None:
    parser.add_argument("--sizes", default="market1501", help="comma-separated: market1501, msmt17")
    parser.add_argument("--tasks", default="evaluate,rerank", help="comma-separated: evaluate, rerank")
    parser.add_argument("--difficulty", default="medium,easy,hard,random",
                        help="comma-separated: easy, hard, random (re-ranking uses the first)")
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: all cores)")
    parser.add_argument("--json", help="also write the figures to this JSON file")


def run(args) -> int:
    threads = args.threads or mp.cpu_count()
    difficulties = args.difficulty.split(",")
    rows = []
    for size in args.sizes.split(","):
        if size not in SIZES:
            raise SystemExit(f"unknown size {size!r}; choose from {sorted(SIZES)}")
        for task in args.tasks.split(","):
            for diff in difficulties if task == "evaluate" else difficulties[:1]:
                row = measure(task, size, args.dim, diff, threads)
                rows.append(row)
                timing = (f"distance {row['distance_s']:.2f} s + metrics {row['metrics_s']:.2f} s = "
                          if task == "evaluate" else "")
                print(f"{task:8s} {size:10s} {diff:6s} {timing}total {row['total_s']:.2f} s, "
                      f"peak RSS {row['peak_rss_gb']:.2f} GB (before: {row['rss_before_gb']:.2f} GB), "
                      f"rank-1 {row['rank1']:.3f}, mAP {row['mAP']:.3f}, mINP {row['mINP']:.3f}",
                      flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)
    return 0

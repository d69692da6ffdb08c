"""The SynthReID chapter: the presets, pictures of its people and knobs, and how hard and how biased it is.

SynthReID (:mod:`reidlib.data.synth`) is the study's own dataset. The chapter
shows its presets and people, then measures it: a colour histogram against
the IDE baseline CNN (is it hard enough?), re-identification with the person
blanked out (is it background-biased like real data?) and image statistics
beside CUHK01's (does it look like real crops?). Real images are never drawn
here: CUHK01 enters as numbers only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from ..data import MaskSource, ReIDDataset, read_image
from ..data.catalog import open_dataset
from ..data.records import Record
from ..data.synth import PRESETS
from ..data.synth.stats import (
    compare_statistics,
    crops_to_measure,
    framing_statistics,
    image_statistics,
    realism_table,
    role_map_path,
    role_shares,
)
from ..data.transforms import variant_pictures
from ..engine import make_config, run_seeds
from ..eval import evaluate_rank, fit_kissme, pairwise_distance, ranked_gallery
from ..eval.color_histogram import color_histogram_baseline, color_histogram_features
from ..paths import REPO_ROOT, shared_data

# The SynthReID preset each profile trains and tests on.
PROFILE_DATASETS = {"ci": "synth-tiny", "cpu": "synth-small", "gpu": "synth-market"}

# The presets generated in seconds: their own knob variants are drawn; the larger ones' come from synth-tiny.
QUICK_PRESETS = ("tiny", "small")


def default_dataset(profile: str) -> str:
    """The SynthReID dataset of ``profile`` (``ci``, ``cpu`` or ``gpu``)."""
    return PROFILE_DATASETS[profile]


def knob_dataset(dataset: str) -> str:
    """The dataset whose knobs the chapter turns: ``dataset`` itself if it is quick to generate, else synth-tiny."""
    return dataset if dataset.removeprefix("synth-") in QUICK_PRESETS else "synth-tiny"


def variant(dataset: str, seed: int, **knobs) -> ReIDDataset:
    """:func:`knob_dataset` of ``dataset`` generated with ``seed`` and the generator's ``knobs`` (``bg_share``...)."""
    return open_dataset(knob_dataset(dataset), seed=seed, **knobs)


def preset_table(presets: dict | None = None) -> pd.DataFrame:
    """One row per SynthReID preset (default :data:`~reidlib.data.synth.PRESETS`): its identities, cameras, ..."""
    presets = PRESETS if presets is None else presets
    return pd.DataFrame({name: {"train ids": c.num_train_ids, "test ids": c.num_test_ids,
                                "gallery-only ids": c.num_gallery_only_ids, "cameras": c.num_cameras,
                                "distractor images": c.num_distractor_images, "junk images": c.num_junk_images,
                                "images per tracklet": "{}-{}".format(*c.images_per_tracklet),
                                "bg_share": c.bg_share}
                         for name, c in presets.items()}).T


def picture(path: str) -> np.ndarray:
    """The image at ``path`` as an ``(H, W, 3)`` uint8 array, for drawing."""
    return read_image(path).permute(1, 2, 0).numpy()


def tracklet_rows(records: Sequence[Record], pid: int,
                  load: Callable[[str], np.ndarray] = picture) -> tuple[list[np.ndarray], int, list[int]]:
    """Every image of identity ``pid`` in ``records``, one row per camera, for :func:`reidlib.viz.image_grid`.

    Rows shorter than the longest are padded with white pictures. ``load`` reads a picture from a path.
    Returns ``(pictures, width, cameras)``: the pictures row by row, the row length and the cameras in order.
    """
    by_cam = {}
    for r in records:
        if r.pid == pid:
            by_cam.setdefault(r.camid, []).append(r)
    width = max(len(v) for v in by_cam.values())
    cells = []
    for cam in sorted(by_cam):
        imgs = [load(r.path) for r in by_cam[cam][:width]]
        cells += imgs + [np.full_like(imgs[0], 255)] * (width - len(imgs))
    return cells, width, sorted(by_cam)


def identity_pictures(dataset: ReIDDataset, pid: int, count: int = 4,
                      load: Callable[[str], np.ndarray] = picture) -> list[np.ndarray]:
    """The first ``count`` training pictures of identity ``pid`` of ``dataset``."""
    return [load(r.path) for r in [r for r in dataset.train if r.pid == pid][:count]]


def ide_scores(name: str, dataset: ReIDDataset, cnn_profile: str, seed: int,
               **knobs) -> tuple[dict[str, float], list[dict]]:
    """The colour histogram's and the IDE baseline's rank-1 and mAP on ``dataset`` (named ``name``).

    The CNN trains at ``cnn_profile`` with ``seed`` on ``name`` generated with ``knobs``. Returns
    ``(scores, withdrawn)``: a records-only execution that finds no record of the run gives NaN scores and
    one withdrawn record saying why.
    """
    hist = color_histogram_baseline(dataset)
    options = [f"data.dataset_options.{k}={v}" for k, v in knobs.items()]
    cnn = run_seeds(make_config("ide", cnn_profile, name, overrides=["progress=false", *options]), [seed])["runs"]
    withdrawn = []
    if not cnn:  # a records-only execution finds no record of this run: its numbers are withdrawn
        withdrawn.append({"result": f"IDE on {name} {knobs}", "reason": "the run has no record (trained before "
                          "records were kept); trained again by the SynthReID v2 issue"})
    return {"histogram rank-1": hist["cmc"][0], "histogram mAP": hist["mAP"],
            "CNN rank-1": cnn[0]["rank1"] if cnn else float("nan"),
            "CNN mAP": cnn[0]["mAP"] if cnn else float("nan")}, withdrawn


def difficulty_scores(ds: ReIDDataset, dataset: str, profile: str, seed: int) -> tuple[dict, list[dict]]:
    """:func:`ide_scores` on ``ds`` (the dataset ``dataset``) and on its variants at difficulty 0 and 1.

    The engine's IDE baseline at the cpu profile (ci for a ci run), trained and tested on each dataset.
    Returns ``(table, withdrawn)``: ``table`` maps a row name to its scores, rounded to 4 digits.
    """
    cnn_profile = "ci" if profile == "ci" else "cpu"
    hard = {}
    hard[dataset], withdrawn = ide_scores(dataset, ds, cnn_profile, seed)
    for difficulty in (0.0, 1.0):
        d = variant(dataset, seed, difficulty=difficulty)
        hard[f"{dataset}, difficulty {difficulty:g}"], gone = ide_scores(knob_dataset(dataset), d, cnn_profile, seed,
                                                                          difficulty=difficulty)
        withdrawn += gone
    return pd.DataFrame(hard).T.round(4).to_dict(orient="index"), withdrawn


def difficulty_glue(hard: pd.DataFrame) -> dict[str, object]:
    """The values the section *Is it hard enough?* glues, by glue name, from :func:`difficulty_scores`'s table.

    Its first row is the dataset itself, the second and third its variants at difficulty 0 and 1.
    """
    def rank1(row):
        return "no number (its run has no record)" if pd.isna(row["CNN rank-1"]) else f"{row['CNN rank-1']:.1%}"
    return {"hist_rank1": float(hard.iloc[0]["histogram rank-1"]), "cnn_rank1": float(hard.iloc[0]["CNN rank-1"]),
            "cnn_difficulty": f"{rank1(hard.iloc[1])} at difficulty 0 and {rank1(hard.iloc[2])} at difficulty 1"}


def background_only_scores(dataset: ReIDDataset) -> dict[str, float]:
    """Re-identification with every person replaced by the mean colour (the *background-only* images).

    Colour histograms of the background-only images, ranked by Euclidean distance and by a KISSME metric
    learned on the training images treated the same way. Returns the chance rank-1 (a random ranking) and
    both rankings' rank-1 and mAP.
    """
    masks = MaskSource(dataset.root)
    feats = {split: color_histogram_features(list(variant_pictures(getattr(dataset, split), masks, "background_only")))
             for split in ("train", "query", "gallery")}
    metric = fit_kissme(feats["train"], [r.pid for r in dataset.train], pca_dim=32)
    labels = ([r.pid for r in dataset.query], [r.pid for r in dataset.gallery], [r.camid for r in dataset.query],
              [r.camid for r in dataset.gallery])
    dist = pairwise_distance(feats["query"], feats["gallery"])
    plain = evaluate_rank(dist, *labels)
    learned = evaluate_rank(metric.distance(feats["query"], feats["gallery"]), *labels)
    gallery_ids = len({r.pid for r in dataset.gallery if r.pid > 0})
    return {"chance rank-1": 1 / gallery_ids, "histogram rank-1": plain["cmc"][0], "histogram mAP": plain["mAP"],
            "KISSME rank-1": learned["cmc"][0], "KISSME mAP": learned["mAP"],
            "histogram top-1 in own camera": own_camera_top1(dist, *labels)}


def own_camera_top1(dist, q_pids, g_pids, q_cams, g_cams) -> float:
    """The share of queries whose nearest gallery image, under the ranking protocol (junk ``-1`` and the
    query's own identity in its own camera left out), was taken by the query's own camera.

    Near 1, the features see the camera more than anything else: the true matches, all in other
    cameras, can then never come first.
    """
    d = np.where(ranked_gallery(q_pids, g_pids, q_cams, g_cams), np.asarray(dist, dtype=float), np.inf)
    top = d.argmin(1)
    return float((np.asarray(g_cams)[top] == np.asarray(q_cams)).mean())


def bias_table(dataset: str, seed: int, shares: tuple[float, ...] = (0.0, 0.5, 1.0), **knobs) -> pd.DataFrame:
    """:func:`background_only_scores` of ``dataset``'s variants (:func:`variant`, with the generator's
    ``knobs``), one row per ``bg_share``."""
    return pd.DataFrame({f"bg_share {s}": background_only_scores(variant(dataset, seed, bg_share=s, **knobs))
                         for s in shares}).T


def bias_glue(bias: pd.DataFrame) -> dict[str, float]:
    """The KISSME rank-1 at the lowest and highest ``bg_share`` and the chance level, by glue name.

    ``bias`` is :func:`bias_table`'s table, its rows in increasing ``bg_share``.
    """
    return {"bias_r1_low": float(bias.iloc[0]["KISSME rank-1"]), "bias_r1_high": float(bias.iloc[-1]["KISSME rank-1"]),
            "bias_chance": float(bias.iloc[0]["chance rank-1"])}


def comparison_sample(real_paths: Sequence[str], synth: Sequence[Record], seed: int,
                      count: int = 500) -> tuple[list[str], list[Record]]:
    """``count`` of ``real_paths`` and up to ``count`` of the ``synth`` records, drawn without replacement.

    One generator seeded with ``seed`` draws the real images first, so the sample is the same on every run.
    """
    rng = np.random.default_rng(seed)
    real = [real_paths[i] for i in rng.choice(len(real_paths), count, replace=False)]
    return real, [synth[i] for i in rng.choice(len(synth), min(count, len(synth)), replace=False)]


def real_comparison(ds: ReIDDataset, masks: MaskSource, real_root: str | Path, seed: int,
                    count: int = 500) -> dict[str, object]:
    """Image statistics of ``count`` training images of ``ds`` beside those of CUHK01's at ``real_root``.

    Only numbers leave this function: the real images are never drawn. Returns the results file
    ``synthreid_vs_cuhk01``: ``synthreid`` and ``cuhk01`` summaries and their ``histogram_intersection``.
    """
    real_paths = sorted(str(p) for p in (Path(real_root) / "campus").glob("*.png"))
    real_paths, synth_recs = comparison_sample(real_paths, ds.train, seed, count)
    cmp = compare_statistics(image_statistics([r.path for r in synth_recs], masks), image_statistics(real_paths))
    return {"synthreid": cmp["a"], "cuhk01": cmp["b"], "histogram_intersection": cmp["colour histogram intersection"]}


# Renderer 2 against real crops (issue 30): the datasets measured, as (catalog name, SynthConfig overrides).
REALISM_DATASETS = {"SynthReID v1": ("synth-small", {}), "SynthReID v2": ("synth-small", {"renderer": 2}),
                    "CUHK01": ("cuhk01", {}), "Market-1501": ("market1501", {})}


def market_framing_sample(market_root: str | Path, count: int = 800) -> list[np.ndarray]:
    """``count`` of Market-1501's training parsing maps, evenly spaced in file order.

    The release's parsing maps (machine-made, LIP classes; person where > 0) cover the training images
    only; the test crops come from the same detector, so their framing is the same.
    """
    maps = sorted((Path(market_root) / "parsing" / "bounding_box_train").glob("*.png"))
    if len(maps) < count:
        raise FileNotFoundError(f"{len(maps)} parsing maps under {market_root}/parsing/bounding_box_train, "
                                f"fewer than the {count} asked for")
    return [np.asarray(Image.open(p)) for p in maps[:: len(maps) // count][:count]]


def realism_comparison(seed: int = 0, count: int = 800) -> dict[str, object]:
    """Renderer 1 and 2 of SynthReID ``small`` beside CUHK01 and Market-1501: the results file
    ``synthreid_realism``.

    Image statistics (:func:`image_statistics`) of ``count`` test crops of people of each dataset
    (:func:`crops_to_measure`), the goals of :data:`REALISM_GOALS` judged for renderer 2
    (:func:`realism_table`), and how the crops frame their person (:func:`framing_statistics`; Market-1501's
    from its training parsing maps, CUHK01 has no masks). Only numbers leave this function.
    """
    stats, framing, roles = {}, {}, {}
    for name, (catalog_name, options) in REALISM_DATASETS.items():
        root = shared_data(catalog_name) if not catalog_name.startswith("synth-") else None
        ds = open_dataset(catalog_name, root, seed=seed, **options)
        crops = crops_to_measure(ds, count)
        stats[name] = image_statistics(crops)
        if catalog_name.startswith("synth-"):
            masks = MaskSource(ds.root)
            framing[name] = framing_statistics([masks.load(path) for path in crops])
        if options.get("renderer", 1) >= 2:  # only renderer 2 writes role maps
            roles[name] = role_shares(np.asarray(Image.open(role_map_path(path, ds.root))) for path in crops)
    framing["Market-1501"] = framing_statistics(market_framing_sample(shared_data("market1501"), count))
    table = realism_table(stats, "SynthReID v2", "Market-1501", "SynthReID v1")
    return {"count": count, "goals": table.reset_index().to_dict(orient="records"),
            "hue_histograms": {name: s.hue_histogram.round(4).tolist() for name, s in stats.items()},
            "framing": framing, "roles": roles}


def realism_glue(realism: dict) -> dict[str, object]:
    """The chapter's glued figures from a ``synthreid_realism`` results file (:func:`realism_comparison`
    and :func:`renderer_baselines`)."""
    goals = pd.DataFrame(realism["goals"]).set_index("measure")
    hist, bg = realism["colour histogram"], realism["background only"]["SynthReID v2"]
    low, high = bg[min(bg)], bg[max(bg)]  # keys "bg_share 0.0" < "bg_share 1.0"
    return {"realism_met": int(goals["met"].sum()), "realism_goals": len(goals),
            "v2_gradient": float(goals.loc["mean abs gradient", "SynthReID v2"]),
            "v2_laplacian": float(goals.loc["Laplacian variance", "SynthReID v2"]),
            "v1_hist_rank1": hist["SynthReID v1"]["rank-1"], "v2_hist_rank1": hist["SynthReID v2"]["rank-1"],
            "v2_bias_low": low["KISSME rank-1"], "v2_bias_high": high["KISSME rank-1"],
            "v2_bias_chance": low["chance rank-1"], "v2_others_kept": _others_kept(realism["roles"]["SynthReID v2"]),
            **{f"{tag}_own_camera": float(rows[max(rows)]["histogram top-1 in own camera"])
               for tag, rows in (("v1", realism["background only"]["SynthReID v1"]), ("v2", bg))}}


def _others_kept(shares: dict[str, float]) -> float:
    """Of the pixels a background variant keeps when it blanks the target person, the share that other
    people and occluders hold (:func:`role_shares`)."""
    kept = 1.0 - shares["target person"]
    return (shares["other people"] + shares["occluders"]) / kept


def baselines_tables(realism: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`renderer_baselines`' two tables: colour-histogram scores per renderer, and the background-only
    scores with one row per (renderer, ``bg_share``)."""
    hist = pd.DataFrame(realism["colour histogram"]).T
    bg = pd.concat({name: pd.DataFrame(rows).T for name, rows in realism["background only"].items()},
                   names=["renderer", "variant"])
    return hist, bg


def renderer_baselines(seed: int = 0, dataset: str = "synth-small") -> dict[str, object]:
    """What renderer 2 does to the two baselines that need no CNN, beside renderer 1, on ``dataset``.

    ``colour histogram``: the colour-histogram baseline's rank-1 and mAP per renderer (renderer 2 should
    not make it easier). ``background only``: :func:`bias_table` per renderer (``bg_share`` 0 should leave
    the background-only ranking near chance, 1 well above it).
    """
    out: dict[str, object] = {"colour histogram": {}, "background only": {}}
    for name, knobs in (("SynthReID v1", {}), ("SynthReID v2", {"renderer": 2})):
        hist = color_histogram_baseline(open_dataset(dataset, seed=seed, **knobs))
        out["colour histogram"][name] = {"rank-1": float(hist["cmc"][0]), "mAP": float(hist["mAP"])}
        out["background only"][name] = bias_table(dataset, seed, **knobs).round(4).to_dict(orient="index")
    return out


# Renderer 2's transfer test (issue 30): the SynthReID renderers trained on, as SynthConfig overrides,
# and the real datasets each run is tested on directly, with no training on them.
RENDERERS = {"SynthReID v1": {}, "SynthReID v2": {"renderer": 2}}
TRANSFER_DATASETS = {"CUHK01": "cuhk01", "Market-1501": "market1501"}
# Seeds of their own: the other chapters' IDE runs on renderer 1 (seeds 0-2) keep their records but not
# their weights, so they cannot be tested on a new dataset, and a run trained again on another machine does
# not repeat its record bit for bit (float rounding differs from the first epoch on). Both renderers are
# therefore trained afresh, side by side, on these.
TRANSFER_SEEDS = (3, 4, 5)


def renderer_transfer(seeds: Sequence[int] = TRANSFER_SEEDS, profile: str = "cpu",
                      dataset: str = "synth-small") -> dict[str, object]:
    """The IDE baseline trained from scratch on ``dataset`` under each renderer, tested on real crops.

    Each run (the engine's IDE at ``profile``, one per seed) is tested on its own test split and
    directly on each of :data:`TRANSFER_DATASETS`, which it never trained on: realism measured by
    what a network learns. Both renderers train on the same seeds, on the same machine. Beside them,
    for scale, the same CNN trained and tested on CUHK01 (its committed seeds 0-2).

    Returns ``{"rows": [...], "withdrawn": [...]}``: a row per (trained on, seed, tested on) with
    ``rank-1`` and ``mAP``; a score that can be neither read from a run's record nor computed here
    is withdrawn, with the reason, rather than left out.
    """
    from ..ablation import Withdrawn, evaluate_or_withdraw

    tests = {"own test split": {}, **{name: {"data.test_dataset": cat, "data.test_data_root": str(shared_data(cat))}
                                          for name, cat in TRANSFER_DATASETS.items()}}
    trained = {name: (dataset, [f"data.dataset_options.{k}={v}" for k, v in knobs.items()], list(seeds), tests)
               for name, knobs in RENDERERS.items()}
    # The comparison chapter's CUHK01-trained baseline runs: they were configured with the segmenter's mask
    # tree of CUHK01, which IDE never reads but which names those runs (their fingerprints) all the same.
    masks = REPO_ROOT / ".cache" / "masks" / "cuhk01"
    trained["CUHK01"] = ("cuhk01", [f"data.data_root={shared_data('cuhk01')}", f"data.mask_root={masks}"],
                         [0, 1, 2], {"CUHK01": {}})
    rows, withdrawn = [], []
    for name, (train_on, options, run_seed_list, run_tests) in trained.items():
        config = make_config("ide", profile, train_on, overrides=["progress=false", *options])
        for run in run_seeds(config, run_seed_list)["runs"]:
            for test, overrides in run_tests.items():
                what = f"IDE trained on {name}, seed {run['seed']}, tested on {test}"
                # Its own test split is the run's own result; another test set is computed or read from the record.
                s = evaluate_or_withdraw(run, overrides, what) if overrides else run
                if isinstance(s, Withdrawn):
                    withdrawn.append(s.record())
                    s = {"rank1": float("nan"), "mAP": float("nan")}
                rows.append({"trained on": name, "seed": run["seed"], "tested on": test,
                             "rank-1": round(float(s["rank1"]), 4), "mAP": round(float(s["mAP"]), 4)})
    return {"rows": rows, "withdrawn": withdrawn}


def transfer_table(transfer: dict) -> pd.DataFrame:
    """:func:`renderer_transfer`'s rows as mean rank-1 / mAP (%) over seeds: a row per training set, a column
    per (metric, test set)."""
    rows = pd.DataFrame(transfer["rows"])
    means = rows.groupby(["trained on", "tested on"], sort=False)[["rank-1", "mAP"]].mean() * 100
    return means.unstack("tested on").round(1)


def transfer_glue(transfer: dict) -> dict[str, float]:
    """The figures the transfer section glues: :func:`transfer_table`'s mean rank-1 (fractions) of each
    renderer on its own test split and each real test set, and of the CUHK01-trained reference."""
    table = transfer_table(transfer)["rank-1"] / 100
    out = {f"{tag}_{test}": float(table.loc[name, column])
           for tag, name in (("v1", "SynthReID v1"), ("v2", "SynthReID v2"))
           for test, column in (("cuhk01", "CUHK01"), ("market", "Market-1501"), ("own", "own test split"))}
    return {**out, "cuhk01_trained": float(table.loc["CUHK01", "CUHK01"])}

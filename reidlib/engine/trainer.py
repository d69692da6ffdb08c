"""One training path for every method: stages, checkpoints, logs, evaluation.

``train(config)`` runs a whole :class:`TrainConfig` and returns its results
dict (also written to ``<output_dir>/results.json``). The output folder
holds ``config.yaml``, ``metrics.jsonl`` (one JSON line per logged step,
epoch and evaluation), ``checkpoint.pt`` (written after every epoch) and
``results.json``. Running the same config into the same folder resumes
where it stopped, and a finished run returns its results without training.

Exact resumption: every epoch reseeds the RNGs (Python, NumPy, torch, the
loader's generator) from ``(seed, epoch)`` and data workers are restarted per
epoch, so epoch ``e`` draws the same batches and augmentations whether or not
the run was interrupted before it.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import random
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from .. import runinfo
from ..eval import (
    evaluate_rank,
    extract_features,
    pairwise_distance,
    pool_tracklet_features,
    re_ranking,
    tracklet_records,
)
from ..models.base import ReIDModel
from ..models.registry import build_model
from ..paths import REPO_ROOT
from . import distributed
from .checkpoint import check_config, check_model, model_signature, read_checkpoint, save_checkpoint
from .config import ConfigError, StageConfig, TrainConfig
from .data import RunData, build_run_data, open_run_dataset
from .optim import build_optimizer, build_scheduler
from .preflight import check_run_inputs
from .profiles import smoke_run
from .records import MissingRunError, kept_weights, recorded_results, save_record
from .runlock import run_lock

RUNS_DIR = REPO_ROOT / "runs"


def default_output_dir(config: TrainConfig) -> Path:
    """``runs/<method>/<profile>-<dataset>-s<seed>-<fingerprint>``: one folder per distinct config.

    Smoke runs (:func:`reidlib.engine.profiles.smoke_run`) go under ``runs/smoke/`` instead,
    apart from the study's runs.
    """
    root = RUNS_DIR / "smoke" if smoke_run() else RUNS_DIR
    return root / config.method / f"{config.profile}-{config.data.dataset}-s{config.seed}-{config.fingerprint()[:8]}"


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} asked for, but torch sees no CUDA device; use device=cpu or auto")
    return device


def resolve_stages(config: TrainConfig) -> list[StageConfig]:
    """The schedule's stages with every inherited field filled in."""
    s = config.schedule
    stages = s.stages or [StageConfig()]
    names = [st.name for st in stages]
    if len(set(names)) != len(names):
        raise ConfigError(f"schedule.stages need distinct names, got {names}")
    full = []
    for st in stages:
        full.append(StageConfig(
            name=st.name,
            epochs=s.epochs if st.epochs is None else st.epochs,
            train=st.train,
            loss_weights=dict(config.loss.weights if st.loss_weights is None else st.loss_weights),
            lr=config.optim.lr if st.lr is None else st.lr,
            warmup_epochs=s.warmup_epochs if st.warmup_epochs is None else st.warmup_epochs,
            milestones=list(s.milestones if st.milestones is None else st.milestones),
            alternate=st.alternate))
    return full


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _to_device(batch: dict, device: torch.device, channels_last: bool) -> dict:
    out = {}
    for key, value in batch.items():
        if isinstance(value, torch.Tensor):
            value = value.to(device, non_blocking=True)
            if channels_last and value.dim() == 4 and key == "image":
                value = value.contiguous(memory_format=torch.channels_last)
        out[key] = value
    return out


def per_query_scores(res: dict, query_ids) -> dict:
    """Each valid query's AP and first-hit rank from ``evaluate_rank(..., return_per_query=True)``.

    Kept in every result (and so in run records) so that the verdict rule can
    include the test set's sampling error (:func:`reidlib.claims.test_set_variance`).
    ``query`` indexes the query list; APs are rounded to 6 digits to keep records small.
    """
    valid = np.flatnonzero(res["query_first_rank"] > 0)
    return {"query": valid.tolist(), "pid": [int(p) for p in np.asarray(query_ids)[valid]],
            "ap": [round(float(a), 6) for a in res["query_ap"][valid]],
            "first_rank": [int(r) for r in res["query_first_rank"][valid]]}


class Trainer:
    """Trains ``config`` (see the module docstring); :meth:`fit` returns the results dict."""

    def __init__(self, config: TrainConfig):
        self.config = config
        self.device = resolve_device(config.device)
        self.info = distributed.setup(self.device.type)
        if self.info.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.info.local_rank)
        self.cuda = self.device.type == "cuda"
        self.out = Path(config.output_dir) if config.output_dir else default_output_dir(config)
        self.stages = resolve_stages(config)
        for st in self.stages:
            if st.epochs < 1:
                raise ConfigError(f"stage {st.name!r} has {st.epochs} epochs; it needs at least 1")
        self.progress = config.progress and self.info.is_main
        self.amp_dtype = None
        if self.cuda and config.amp:
            self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        # Channels-last convolutions are faster on CUDA and, through oneDNN, on CPU too (about 1.4x here).
        self.channels_last = config.channels_last

    # ------------------------------------------------------------------ set-up
    def _build(self) -> None:
        cfg = self.config
        seed_everything(cfg.seed)
        # Rank 0 generates SynthReID first so the others read a finished cache.
        if self.info.is_main:
            dataset = open_run_dataset(cfg, progress=self.progress)
        distributed.barrier(self.info)
        if not self.info.is_main:
            dataset = open_run_dataset(cfg)
        # Camera labels index the camera classifiers (FA-Net), so size them by the largest label.
        num_cameras = max(r.camid for r in dataset.train) + 1
        self.model: ReIDModel = build_model(cfg, dataset.num_train_pids, num_cameras).to(self.device)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        for task in (t for st in self.stages for t in st.alternate or []):
            if task not in self.model.tasks:
                raise ConfigError(f"schedule alternates task {task!r}, but method {cfg.method!r} has tasks "
                                  f"{sorted(self.model.tasks) or 'none'}")
        for st in self.stages:
            unknown = sorted(k for k in st.loss_weights if k not in self.model.loss_names)
            if unknown:
                raise ConfigError(f"stage {st.name!r} weighs {unknown}, which method {cfg.method!r} does not "
                                  f"compute; its loss terms are {', '.join(self.model.loss_names)}")
        self.data: RunData = build_run_data(cfg, dataset, self.model.needs, self.info, pin_memory=self.cuda)

    def _set_trainable(self, stage: StageConfig) -> None:
        """Freeze everything outside ``stage.train`` (all learns when it is None)."""
        names = [n for n, _ in self.model.named_parameters()]
        if stage.train is not None:
            for prefix in stage.train:
                if not any(n == prefix or n.startswith(prefix + ".") for n in names):
                    children = ", ".join(n for n, _ in self.model.named_children())
                    raise ConfigError(f"stage {stage.name!r} trains {prefix!r}, which is not a submodule of "
                                      f"{self.config.method!r}; its submodules are {children}")
        for n, p in self.model.named_parameters():
            p.requires_grad_(stage.train is None or any(n == q or n.startswith(q + ".") for q in stage.train))
        # BN layers with BN parameters that learn nothing keep their running statistics too.
        self.frozen_norms = [m for m in self.model.modules()
                             if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.weight is not None
                             and not m.weight.requires_grad]

    def _wrap(self, stage: StageConfig) -> nn.Module:
        if not self.info.enabled:
            return self.model
        used = {k for k, w in stage.loss_weights.items() if w}
        find_unused = bool(stage.alternate) or used != set(self.model.loss_names) or stage.train is not None
        ids = [self.device.index] if self.cuda else None
        return nn.parallel.DistributedDataParallel(self.model, device_ids=ids, find_unused_parameters=find_unused)

    # ------------------------------------------------------------------ logging
    def _log(self, record: dict) -> None:
        if self.info.is_main:
            with open(self.out / "metrics.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")

    # ------------------------------------------------------------------ training
    def train_mode(self, net: nn.Module) -> None:
        """``net`` in training mode, except the norm layers a stage keeps frozen."""
        net.train()
        for m in self.frozen_norms:
            m.eval()

    def train_step(self, net: nn.Module, batch: dict, task: str | None, stage: StageConfig, optimizer, scaler,
                   where: str = "") -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """One optimisation step on ``batch`` (as the loader gives it); returns the weighted loss and its terms.

        ``task`` names the alternating task of this step (None: every term); ``where`` (like
        ``"epoch 3, step 12"``) goes into the error raised when the loss is not finite.
        """
        batch = _to_device(batch, self.device, self.channels_last)
        if task is not None:
            batch["task"] = task  # so that forward can skip what this task does not need
        autocast = (torch.autocast("cuda", dtype=self.amp_dtype) if self.amp_dtype is not None
                    else contextlib.nullcontext())
        with autocast:
            outputs = net(batch)
            terms = self.model.losses(outputs, batch, task)
        weights = stage.loss_weights
        loss = sum(weights.get(k, 0.0) * v for k, v in terms.items() if weights.get(k, 0.0))
        if not isinstance(loss, torch.Tensor):
            raise ConfigError(f"every loss term of this step ({', '.join(terms)}) has weight 0 in stage "
                              f"{stage.name!r}: set loss.weights")
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"the loss became {loss.item()} in stage {stage.name!r}{', ' + where if where else ''} "
                f"(terms: {', '.join(f'{k}={v.item():.4g}' for k, v in terms.items())}); "
                "lower optim.lr or check the inputs")
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        return loss, terms

    def _train_epoch(self, net: nn.Module, stage: StageConfig, stage_index: int, epoch: int, global_epoch: int,
                     optimizer, scaler) -> dict:
        cfg = self.config
        epoch_seed = cfg.seed * 1_000_003 + global_epoch
        seed_everything(epoch_seed)
        loader = self.data.train
        loader.generator.manual_seed(epoch_seed)
        if hasattr(loader.sampler, "set_epoch"):
            loader.sampler.set_epoch(global_epoch)
        self.train_mode(net)
        tasks = itertools.cycle(stage.alternate) if stage.alternate else itertools.repeat(None)
        sums: dict[str, float] = defaultdict(float)
        counts: dict[str, int] = defaultdict(int)  # steps that computed each term (tasks alternate)
        steps, images, wait, start = 0, 0, 0.0, time.perf_counter()
        bar = tqdm(loader, desc=f"{stage.name} epoch {epoch + 1}/{stage.epochs}", disable=not self.progress,
                   leave=False)
        tick = time.perf_counter()
        for batch in bar:
            wait += time.perf_counter() - tick
            task = next(tasks)
            loss, terms = self.train_step(net, batch, task, stage, optimizer, scaler,
                                          where=f"epoch {epoch + 1}, step {steps + 1}")
            steps += 1
            images += len(batch["pid"])
            for k, v in {"loss": loss, **terms}.items():
                sums[k] += v.item()
                counts[k] += 1
            if self.progress:
                # refresh=False: the bar redraws at its own pace (TQDM_MININTERVAL), not at every step,
                # which in an executed notebook would keep one line per step.
                bar.set_postfix(loss=f"{sums['loss'] / counts['loss']:.3f}", refresh=False)
            if cfg.log_every and steps % cfg.log_every == 0:
                self._log({"kind": "step", "stage": stage.name, "epoch": global_epoch + 1, "step": steps,
                           "task": task, "loss": loss.item(), **{k: v.item() for k, v in terms.items()},
                           "lr": optimizer.param_groups[0]["lr"]})
            tick = time.perf_counter()
        if self.cuda:
            torch.cuda.synchronize(self.device)
        seconds = time.perf_counter() - start
        if steps == 0:
            raise ValueError(f"the training loader gave no batch: {len(loader.dataset)} images cannot fill a batch of "
                             f"{cfg.data.batch_size}; lower data.batch_size")
        return {"kind": "epoch", "stage": stage.name, "stage_index": stage_index, "epoch": global_epoch + 1,
                **{k: v / counts[k] for k, v in sums.items()},
                "lr": {g["name"]: g["lr"] for g in optimizer.param_groups},
                "steps": steps, "seconds": seconds,
                "images_per_second": images * self.info.world_size / seconds, "data_wait_share": wait / seconds}

    # ------------------------------------------------------------------ evaluation
    def _embed(self, loader) -> torch.Tensor:
        cfg = self.config.eval
        autocast = (torch.autocast("cuda", dtype=self.amp_dtype) if self.amp_dtype is not None
                    else contextlib.nullcontext())

        def embed(batch):
            with autocast:
                return self.model.embed(_to_device(batch, self.device, self.channels_last))

        return extract_features(self.model, loader, self.device, flip=cfg.flip, normalize=cfg.normalize,
                                progress=self.progress, embed=embed)

    def features(self, split: str) -> tuple[torch.Tensor, list]:
        """(N, D) test-time embeddings of ``split`` (train, query or gallery) and its records.

        The training split goes through the test transforms (no augmentation),
        for metrics learned on training features (KISSME, XQDA).
        """
        from ..data import ReIDImages, eval_loader

        self.model.eval()
        if split in ("query", "gallery"):
            return self._embed(getattr(self.data, split)), getattr(self.data.dataset, split)
        if split != "train":
            raise ValueError(f"split must be train, query or gallery, not {split!r}")
        test = self.data.query.dataset
        loader = eval_loader(ReIDImages(self.data.dataset.train, test.transform, self.data.train.dataset.masks,
                                        split="train", root=self.data.dataset.root),
                             self.config.data.test_batch_size, self.config.data.num_workers)
        return self._embed(loader), self.data.dataset.train

    def evaluate(self) -> dict:
        """rank-1/5/10, mAP, mINP (and their re-ranked values) on the query and gallery sets."""
        cfg = self.config.eval
        self.model.eval()
        ds = self.data.dataset
        q, g = self._embed(self.data.query), self._embed(self.data.gallery)
        qrec, grec = ds.query, ds.gallery
        if ds.is_video:  # one feature per tracklet (MARS convention)
            q = pool_tracklet_features(q, [r.tracklet for r in qrec])[0]  # rows in sorted tracklet order,
            g = pool_tracklet_features(g, [r.tracklet for r in grec])[0]  # as tracklet_records gives them
            qrec, grec = tracklet_records(qrec), tracklet_records(grec)
        qids, gids = np.array([r.pid for r in qrec]), np.array([r.pid for r in grec])
        qcams, gcams = np.array([r.camid for r in qrec]), np.array([r.camid for r in grec])
        protocol = cfg.protocol or "market"
        dist = pairwise_distance(q, g, cfg.metric)
        res = evaluate_rank(dist, qids, gids, qcams, gcams, protocol=protocol, return_per_query=True)
        out = {"rank1": float(res["cmc"][0]), "rank5": float(res["cmc"][4]), "rank10": float(res["cmc"][9]),
               "mAP": float(res["mAP"]), "mINP": float(res["mINP"]), "cmc": [float(c) for c in res["cmc"][:20]],
               "num_valid_queries": int(res["num_valid_queries"])}
        if protocol != "cuhk03_classic":  # (its CMC comes from repeated random galleries, not one ranking)
            out["per_query"] = per_query_scores(res, qids)
        if cfg.rerank:
            rr = evaluate_rank(re_ranking(q, g), qids, gids, qcams, gcams, protocol=protocol, return_per_query=True)
            out.update({"rerank_rank1": float(rr["cmc"][0]), "rerank_mAP": float(rr["mAP"]),
                        "rerank_mINP": float(rr["mINP"])})
            if "per_query" in out:
                out["rerank_per_query"] = per_query_scores(rr, qids)
        return out

    # ------------------------------------------------------------------ the run
    def _checkpoint_state(self, stage_index, epoch, global_epoch, optimizer, scheduler, scaler, history, evals,
                          seconds, finished=False) -> dict:
        return {"method": self.config.method, "fingerprint": self.config.fingerprint(),
                "config": self.config.to_dict(), "model_signature": model_signature(self.model),
                "model": self.model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(),
                "stage_index": stage_index, "epoch": epoch, "global_epoch": global_epoch,
                "history": history, "evals": evals, "train_seconds": seconds, "finished": finished}

    def fit(self) -> dict:
        cfg = self.config
        prev_det = torch.are_deterministic_algorithms_enabled()
        if cfg.deterministic and not self.cuda:
            torch.use_deterministic_algorithms(True)
        try:
            # Another process may be training this very run (two notebooks side by side): wait for it.
            with run_lock(self.out) if self.info.is_main else contextlib.nullcontext():
                return self._fit()
        finally:
            torch.use_deterministic_algorithms(prev_det)
            distributed.cleanup(self.info)

    def _fit(self) -> dict:
        cfg = self.config
        ckpt_path, results_path = self.out / "checkpoint.pt", self.out / "results.json"
        if cfg.resume and not ckpt_path.exists():
            # trained in an earlier session: its record (results/<profile>/runs/) stands in for the folder
            recorded = recorded_results(cfg.method, cfg.profile, self.out, cfg.fingerprint())
            if recorded is not None:
                return recorded
        if self.info.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
        distributed.barrier(self.info)
        self._build()
        state = None
        if ckpt_path.exists() and cfg.resume:
            state = read_checkpoint(ckpt_path)
            check_model(state, self.model, cfg.method, ckpt_path)
            check_config(state, cfg.fingerprint(), cfg.to_dict(), ckpt_path, TrainConfig.NON_RESULT_KEYS)
            if state["finished"] and results_path.exists():
                results = json.loads(results_path.read_text())
                if self.info.is_main and recorded_results(cfg.method, cfg.profile, self.out, cfg.fingerprint()) is None:
                    save_record({**results, "output_dir": str(self.out)})  # finished before records existed
                return results
            self.model.load_state_dict(state["model"])
        elif self.info.is_main:
            (self.out / "metrics.jsonl").unlink(missing_ok=True)
        check_run_inputs(self.data, self.progress)  # a bad test image or mask fails now, not after the last epoch
        if self.info.is_main:
            cfg.to_yaml(self.out / "config.yaml")
        history, evals, seconds = (state["history"], state["evals"], state["train_seconds"]) if state else ([], [], 0.0)
        global_epoch = 0
        for stage_index, stage in enumerate(self.stages):
            if state and stage_index < state["stage_index"]:
                global_epoch += stage.epochs
                continue
            self._set_trainable(stage)
            net = self._wrap(stage)
            optimizer = build_optimizer(self.model, cfg.optim, stage.lr)
            scheduler = build_scheduler(optimizer, stage.warmup_epochs, cfg.schedule.warmup_factor,
                                        stage.milestones, cfg.schedule.gamma)
            scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
            start_epoch = 0
            if state and stage_index == state["stage_index"]:
                start_epoch = state["epoch"]
                if start_epoch < stage.epochs:
                    optimizer.load_state_dict(state["optimizer"])
                    scheduler.load_state_dict(state["scheduler"])
                    scaler.load_state_dict(state["scaler"])
                state = None
            global_epoch += start_epoch
            if start_epoch == 0 and hasattr(self.model, "on_stage_start"):
                self.model.on_stage_start(stage.name)  # e.g. copy weights into new branches (once, not on resume)
            for epoch in range(start_epoch, stage.epochs):
                summary = self._train_epoch(net, stage, stage_index, epoch, global_epoch, optimizer, scaler)
                scheduler.step()
                seconds += summary["seconds"]
                global_epoch += 1
                history.append(summary)
                self._log(summary)
                last = stage_index == len(self.stages) - 1 and epoch == stage.epochs - 1
                if cfg.eval.every and global_epoch % cfg.eval.every == 0 and not last:
                    if self.info.is_main:
                        ev = {"kind": "eval", "epoch": global_epoch, **self.evaluate()}
                        evals.append(ev)
                        self._log(ev)
                    distributed.barrier(self.info)
                if self.info.is_main:
                    save_checkpoint(ckpt_path, self._checkpoint_state(
                        stage_index, epoch + 1, global_epoch, optimizer, scheduler, scaler, history, evals, seconds))
                distributed.barrier(self.info)
        results = None
        if self.info.is_main:
            final = self.evaluate()
            evals.append({"kind": "eval", "epoch": global_epoch, **final})
            self._log(evals[-1])
            results = self._results(final, history, evals, seconds)
            results_path.write_text(json.dumps(results, indent=2) + "\n")
            save_record(results)  # cpu / gpu runs: results/<profile>/runs/, committed with the results
            state = read_checkpoint(ckpt_path)
            state["finished"], state["evals"] = True, evals
            save_checkpoint(ckpt_path, state)
        distributed.barrier(self.info)
        return distributed.broadcast_object(results, self.info)

    def _results(self, final: dict, history: list, evals: list, seconds: float) -> dict:
        cfg = self.config
        images = sum(h["images_per_second"] * h["seconds"] for h in history)
        wait = sum(h["data_wait_share"] * h["seconds"] for h in history)
        return {
            "method": cfg.method, "profile": cfg.profile, "dataset": cfg.data.dataset, "seed": cfg.seed,
            "fingerprint": cfg.fingerprint(), "output_dir": str(self.out), **final,
            "epochs": len(history), "train_seconds": seconds,
            "images_per_second": images / seconds if seconds else math.nan,
            "data_wait_share": wait / seconds if seconds else math.nan,
            "world_size": self.info.world_size,
            "pretrained_sha256": pretrained_sha256(cfg),
            "history": history, "evals": evals, "config": cfg.to_dict(),
            "run": runinfo.run_metadata(),
        }


def pretrained_sha256(config: TrainConfig) -> str | None:
    """SHA-256 of the ImageNet weights file ``config.model.pretrained`` names (None: trained from scratch).

    Kept in every run's results, as torchvision's weight enums pin theirs: weights of another
    recipe with the same keys and shapes would otherwise change a number unnoticed.
    """
    from ..models.mobilenet import resolve_weights, sha256_of

    pretrained = config.model.pretrained
    if not pretrained:
        return None
    return sha256_of(resolve_weights(pretrained) if config.model.backbone == "mobilenetv2"
                     else Path(pretrained).expanduser())


def train(config: TrainConfig) -> dict:
    """Train ``config`` and return its results (``rank1``, ``mAP``, ``mINP``, history, ...)."""
    return Trainer(config).fit()


# Settings that may differ when a trained run is evaluated again: they change what it is
# tested on, not what it learned.
# FMN's descriptor and its weight alpha are test-time choices of one trained model.
EVAL_OVERRIDABLE = ("data.test_", "eval.", "device", "progress", "data.num_workers", "data.background_pool",
                    "data.mask_root", "model.options.descriptor", "model.options.alpha")


def load_run(output_dir: str | Path, overrides: list[str] | dict | None = None, device: str = "auto") -> Trainer:
    """A trained run, its model loaded and in eval mode, to evaluate or look inside.

    ``overrides`` (``["data.test_background=mean_background", "eval.rerank=true"]``) may
    change only how and on what the run is tested (keys starting with
    :data:`EVAL_OVERRIDABLE`); ``trainer.evaluate()`` then gives the metrics,
    ``trainer.model`` and ``trainer.data`` the network and loaders.
    """
    from .config import flatten, merge, parse_assignment, unflatten

    path = Path(output_dir) / "checkpoint.pt"
    if not path.exists():  # trained in an earlier session: the weights a chapter kept for its pictures
        kept = kept_weights(output_dir)
        if kept is None:
            raise MissingRunError(f"no trained model for the run at {output_dir}: {path} is missing and no weights "
                                  "were kept for it (reidlib.engine.records.load_for_pictures)")
        path = kept
    state = read_checkpoint(path)
    values = dict(state["config"])
    layers = [unflatten(overrides)] if isinstance(overrides, dict) else [parse_assignment(o) for o in overrides or []]
    for layer in layers:
        for key in flatten(layer):
            if not key.startswith(EVAL_OVERRIDABLE):
                raise ConfigError(f"{key} changes what the run at {output_dir} learned; only test-time settings "
                                  f"({', '.join(EVAL_OVERRIDABLE)}...) can be changed when evaluating it")
        values = merge(values, layer)
    trainer = _built(values, output_dir, device)
    check_model(state, trainer.model, trainer.config.method, path)
    trainer.model.load_state_dict(state["model"])
    trainer.model.eval()
    return trainer


def untrained(run: dict, device: str = "auto") -> Trainer:
    """A run's model and test data as its config builds them, with untrained weights.

    For what training does not change: parameters, FLOPs and speed at
    inference (:func:`reidlib.bench.infer_bench.figures`), without the trained
    weights a finished run may no longer have on this machine.
    """
    trainer = _built(run["config"], run["output_dir"], device)
    trainer.model.eval()
    return trainer


def _built(values: dict, output_dir: str | Path, device: str) -> Trainer:
    """A Trainer with its model and data built from a run's config ``values`` (``device="auto"``: the run's own)."""
    from .config import build

    values = {**values, "output_dir": str(output_dir), **({} if device == "auto" else {"device": device})}
    trainer = Trainer(build(TrainConfig, values))
    trainer._build()
    return trainer

"""The training engine: configs, schedules, checkpoints, resumption, stages, alternation, CLI."""

import contextlib
import dataclasses
import json
import os
import re
from typing import ClassVar

import pytest
import torch
import torch.nn.functional as F

from reidlib import train as train_cli
from reidlib.data.samplers import IdentitySampler
from reidlib.engine import CheckpointMismatch, ConfigError, make_config, summarize_seeds, train
from reidlib.engine.config import TrainConfig, build, parse_assignment
from reidlib.engine.optim import build_optimizer, lr_factor, param_groups
from reidlib.engine.profiles import method_spec, paper_settings
from reidlib.engine.trainer import Trainer
from reidlib.eval import evaluate_rank, pairwise_distance
from reidlib.losses import batch_hard_triplet
from reidlib.models import registry
from reidlib.models.base import ReIDModel
from reidlib.models.baselines import IDE
from reidlib.models.resnet import resnet18, resnet50, resnet_small

FAST = ["schedule.epochs=1", "data.erasing_p=0.0"]


def ci_config(tmp_path, method="ide", overrides=(), name="run"):
    return make_config(method, "ci", overrides=[f"output_dir={tmp_path / name}", *FAST, *overrides])


# ----------------------------------------------------------------------------- checks of a trained run
# test_bgbias, test_fmn, test_ftn, test_fanet and test_mgcam use these too (conftest puts tests/ on sys.path).

class Recorder(Trainer):
    """The real trainer, keeping the model's state (parameters and BN statistics) where each stage starts and ends."""

    def __init__(self, config):
        super().__init__(config)
        self.states = {}

    def _state(self):
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def _train_epoch(self, net, stage, stage_index, epoch, *args, **kwargs):
        if epoch == 0:  # after the stage's freezing and on_stage_start
            self.states[stage.name, "start"] = self._state()
        summary = super()._train_epoch(net, stage, stage_index, epoch, *args, **kwargs)
        self.states[stage.name, "end"] = self._state()
        return summary


def recorded_run(config):
    """``(trainer, results)`` of ``config`` trained by :class:`Recorder`."""
    trainer = Recorder(config)
    return trainer, trainer.fit()


def fixed_batch(trainer):
    """A training batch (the first of seed 0), to measure the loss of several states on."""
    trainer.data.train.generator.manual_seed(0)
    torch.manual_seed(0)
    return next(iter(trainer.data.train))


def loss_of(trainer, state, batch, weights=None):
    """The weighted training loss of the model in ``state`` on ``batch``, without a step.

    ``weights``: the loss weights (default: the first stage's); terms named there that
    the model does not compute count as missing (KeyError), so nothing is left out silently.
    """
    model = trainer.model
    model.load_state_dict(state)
    model.train()
    torch.manual_seed(0)  # the same dropout for every state
    with torch.no_grad():
        terms = model.losses(model(batch), batch)
    weights = trainer.stages[0].loss_weights if weights is None else weights
    return sum(w * terms[k].item() for k, w in weights.items() if w)


def scores_by_hand(trainer, state):
    """evaluate_rank on the query and gallery embeddings of the model in ``state``, computed here."""
    cfg = trainer.config.eval
    assert (cfg.flip, cfg.normalize, cfg.metric, trainer.data.dataset.is_video) == (False, True, "euclidean", False)
    model = trainer.model
    model.load_state_dict(state)
    model.eval()
    with torch.no_grad():
        q, g = (F.normalize(torch.cat([model.embed(b) for b in loader]).float(), dim=1)
                for loader in (trainer.data.query, trainer.data.gallery))
    query, gallery = trainer.data.dataset.query, trainer.data.dataset.gallery
    # the library's distance (torch.cdist rounds differently, and near-ties then swap on another CPU)
    r = evaluate_rank(pairwise_distance(q, g, "euclidean"), [x.pid for x in query], [x.pid for x in gallery],
                      [x.camid for x in query], [x.camid for x in gallery])
    return {"rank1": r["cmc"][0], "mAP": r["mAP"], "mINP": r["mINP"]}


# ----------------------------------------------------------------------------- configs

def test_unknown_keys_are_rejected_by_name():
    with pytest.raises(ConfigError, match=r"optim\.lrr.*has .*lr"):
        make_config("ide", "ci", overrides=["optim.lrr=0.1"])
    with pytest.raises(ConfigError, match="unknown config key.*epoch\\b"):
        build(TrainConfig, {"epoch": 3})
    with pytest.raises(ConfigError, match="expected an integer"):
        make_config("ide", "ci", overrides=["schedule.epochs=two"])
    with pytest.raises(ConfigError, match="loss.weights|does not compute"):
        registry.build_model(make_config("ide", "ci", overrides=["loss.weights.tal=1"]), 4, 2)
    with pytest.raises(ValueError, match="unknown method 'nope'"):
        make_config("nope")
    with pytest.raises(ConfigError, match="model.options.*has"):
        registry.build_model(make_config("ide", "ci", overrides=["model.options.k=3"]), 4, 2)


def test_config_layers_and_yaml_round_trip(tmp_path):
    cfg = make_config("dgd", "cpu", dataset="synth-tiny", seed=3, overrides=["optim.lr=0.05"])
    assert cfg.model.backbone == "inception_reid"  # method file
    assert cfg.schedule.epochs == 30  # cpu profile
    assert cfg.optim.lr == 0.05 and cfg.seed == 3 and cfg.data.dataset == "synth-tiny"
    path = tmp_path / "c.yaml"
    cfg.to_yaml(path)
    again = make_config("dgd", "cpu", config_file=path)
    assert again == cfg and again.fingerprint() == cfg.fingerprint()
    assert parse_assignment("a.b=[1, 2]") == {"a": {"b": [1, 2]}}


def test_float_spellings_are_numbers_in_set_and_in_config_files(tmp_path):
    # PyYAML's YAML 1.1 rules read 1e-3 (no dot) and 1.5e3 (unsigned exponent) as strings.
    for text, want in (("1e-3", 1e-3), ("5E-4", 5e-4), ("1.5e+2", 150.0), ("1.5e3", 1500.0), (".5", 0.5),
                       ("-.5e-1", -0.05), ("3", 3.0), ("'2e-2'", 0.02)):
        cfg = make_config("ide", "ci", overrides=[f"optim.lr={text}", f"optim.weight_decay={text}"])
        assert cfg.optim.lr == want and cfg.optim.weight_decay == want, text
        assert isinstance(cfg.optim.lr, float)
    path = tmp_path / "c.yaml"
    path.write_text("optim:\n  lr: 5e-4\n  betas: [9e-1, 0.999]\nloss:\n  triplet_margin: 3e-1\n")
    cfg = make_config("ide", "ci", config_file=path)
    assert (cfg.optim.lr, cfg.optim.betas, cfg.loss.triplet_margin) == (5e-4, (0.9, 0.999), 0.3)
    assert parse_assignment("model.options.tau=1e-2") == {"model": {"options": {"tau": 0.01}}}
    assert make_config("ide", "ci", overrides=["schedule.epochs=3"]).schedule.epochs == 3  # integers stay integers
    with pytest.raises(ConfigError, match="expected an integer"):
        make_config("ide", "ci", overrides=["schedule.epochs=1e3"])
    # A string that only looks like a number is written quoted, so the config file reads back the same.
    odd = dataclasses.replace(cfg, output_dir="1e5")
    odd.to_yaml(path)
    assert "'1e5'" in path.read_text() and make_config("ide", "ci", config_file=path) == odd


def test_config_numbers_must_be_finite():
    for text in (".inf", "-.inf", ".nan", "inf", "nan", "1e999"):
        with pytest.raises(ConfigError, match=r"optim\.lr: expected a finite number"):
            make_config("ide", "ci", overrides=[f"optim.lr={text}"])
    with pytest.raises(ConfigError, match=r"loss\.triplet_margin: expected a finite number.*\(or null\)"):
        make_config("ide", "ci", overrides=["loss.triplet_margin=.nan"])
    with pytest.raises(ConfigError, match=r"optim\.lr: expected a number.*'fast'"):
        make_config("ide", "ci", overrides=["optim.lr=fast"])
    with pytest.raises(ConfigError, match=r"optim\.lr: expected a number"):
        make_config("ide", "ci", overrides=["optim.lr=true"])


def test_fingerprint_tracks_results_not_paths():
    a = make_config("ide", "ci")
    assert dataclasses.replace(a, output_dir="/elsewhere", progress=True).fingerprint() == a.fingerprint()
    assert make_config("ide", "ci", overrides=["optim.lr=0.5"]).fingerprint() != a.fingerprint()
    assert make_config("ide", "ci", seed=1).fingerprint() != a.fingerprint()


def test_gpu_profile_takes_each_papers_settings_with_sources():
    fanet = make_config("ide", "gpu")
    assert (fanet.data.height, fanet.data.batch_size, fanet.optim.lr) == (384, 128, 0.6)
    assert fanet.optim.pretrained_lr_mult == 0.1 and fanet.schedule.milestones == [40, 80]
    fmn = make_config("ide", "gpu", paper="fmn")
    assert fmn.model.last_stride == 2 and fmn.optim.lr == 0.1
    for method in ("ide", "global_local", "mscan_body", "dgd"):
        for paper, spec in paper_settings(method).items():
            assert spec["sources"] and spec["reported"], (method, paper)
            make_config(method, "gpu", paper=paper)  # every paper config is valid
    with pytest.raises(ConfigError, match="no settings for paper"):
        make_config("ide", "gpu", paper="ftn")
    with pytest.raises(ConfigError, match="gpu profile"):
        make_config("ide", "cpu", paper="fanet")
    assert "description" in method_spec("global_local")


# ----------------------------------------------------------------------------- pieces

def test_lr_schedule_warms_up_then_steps():
    f = [lr_factor(e, 4, 0.1, [6, 8], 0.1) for e in range(10)]
    assert f[0] == pytest.approx(0.1) and f[2] == pytest.approx(0.55)
    assert f[4:6] == [1.0, 1.0] and f[6] == pytest.approx(0.1) and f[9] == pytest.approx(0.01)


def test_pretrained_layers_get_their_learning_rate_factor():
    model = IDE(resnet_small(widths=(8, 8, 8, 8)), 5, neck="none", pretrained=True)
    cfg = make_config("ide", "gpu").optim  # FA-Net: 0.1 x for pretrained layers
    groups = {g["name"]: g for g in param_groups(model, cfg, 0.6)}
    assert groups["pretrained"]["lr"] == pytest.approx(0.06) and groups["new"]["lr"] == pytest.approx(0.6)
    n_backbone = sum(1 for _ in model.backbone.parameters())
    assert len(groups["pretrained"]["params"]) == n_backbone
    assert isinstance(build_optimizer(model, cfg, 0.6), torch.optim.SGD)


def test_batch_hard_triplet_matches_brute_force():
    g = torch.Generator().manual_seed(0)
    f = torch.randn(12, 5, generator=g)
    pids = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3])
    want = []
    for i in range(12):
        d = [(f[i] - f[j]).norm().item() for j in range(12)]
        hp = max(d[j] for j in range(12) if pids[j] == pids[i] and j != i)
        hn = min(d[j] for j in range(12) if pids[j] != pids[i])
        want.append(max(0.0, hp - hn + 0.3))
    assert batch_hard_triplet(f, pids, 0.3).item() == pytest.approx(sum(want) / 12, rel=1e-5)
    with pytest.raises(ValueError, match="identity sampler"):
        batch_hard_triplet(f[:4], torch.arange(4))


def test_ide_computes_the_triplet_only_when_it_is_weighed():
    # MSCAN-body, DGD and FMN's GRN (IDE models) train on random batches at the gpu profile, where an
    # identity may appear once and a batch-hard triplet is undefined: an unweighed one must not be computed.
    batch = {"image": torch.randn(4, 3, 64, 32), "pid": torch.tensor([0, 1, 2, 3])}
    for weights, terms in (({"id": 1.0}, ["id"]), ({"id": 1.0, "triplet": 1.0}, ["id", "triplet"])):
        cfg = make_config("ide", "ci", overrides={"loss.weights": weights, "data.sampler": "random"})
        model = registry.build_model(cfg, num_classes=4, num_cameras=1).train()
        if "triplet" in terms:
            with pytest.raises(ValueError, match="every identity of the batch at least twice"):
                model.losses(model(batch), batch)
        else:
            assert list(model.losses(model(batch), batch)) == terms


def test_resnet50_last_stride_and_local_weights(tmp_path):
    net = resnet50(last_stride=1)
    with torch.no_grad():
        assert net.eval()(torch.zeros(1, 3, 256, 128)).shape == (1, 2048, 16, 8)
    missing = tmp_path / "resnet50.pth"
    with pytest.raises(FileNotFoundError, match="resnet50.pth"):
        resnet50(pretrained=missing)
    import torchvision

    torch.save(torchvision.models.resnet18().state_dict(), tmp_path / "r18.pth")
    with pytest.raises(ValueError, match="does not hold torchvision resnet50 weights"):
        resnet50(pretrained=tmp_path / "r18.pth")
    loaded = resnet18(pretrained=tmp_path / "r18.pth")  # the right file loads
    assert loaded.out_channels == 512


def test_distributed_identity_sampler_splits_every_global_batch():
    pids = [i // 8 for i in range(80)]  # 10 identities x 8 images: two groups of K=4 each
    cams = [i % 3 for i in range(80)]
    whole = list(IdentitySampler(pids, cams, 16, 4, seed=1))
    halves = [list(IdentitySampler(pids, cams, 16, 4, seed=1, rank=r, world_size=2)) for r in (0, 1)]
    assert len(halves[0]) == len(halves[1]) == len(whole) // 2
    for b in range(len(whole) // 16):
        assert whole[16 * b:16 * b + 16] == halves[0][8 * b:8 * b + 8] + halves[1][8 * b:8 * b + 8]
    # an epoch takes each image at most once, and most of them (a batch needs P distinct identities,
    # so the last few groups can be left over)
    assert len(set(whole)) == len(whole) >= 0.75 * 80
    with pytest.raises(ValueError, match="split evenly"):
        IdentitySampler(pids, cams, 12, 4, world_size=2)


def test_summarize_seeds():
    runs = [{"seed": s, "rank1": r, "mAP": 0.5} for s, r in ((0, 0.2), (1, 0.4), (2, 0.6))]
    out = summarize_seeds(runs, ("rank1", "mAP"))
    assert out["rank1"]["mean"] == pytest.approx(0.4) and out["rank1"]["std"] == pytest.approx(0.2)
    assert out["mAP"]["std"] == 0.0 and out["seeds"] == [0, 1, 2]


# ----------------------------------------------------------------------------- training runs

@pytest.mark.parametrize("method", ["ide", "global_local", "mscan_body", "dgd"])
def test_every_baseline_trains_and_evaluates(tmp_path, method):
    trainer, res = recorded_run(ci_config(tmp_path, method))
    start, end = trainer.states["main", "start"], trainer.states["main", "end"]
    # the epoch lowered the training loss: measured on one batch before and after it (no training: equal)
    batch = fixed_batch(trainer)
    assert loss_of(trainer, end, batch) < loss_of(trainer, start, batch)
    # the scores are those of the trained model on the test split, as evaluate_rank gives them on
    # embeddings computed here (another model, split, label order or distance would not match)
    hand = scores_by_hand(trainer, end)
    assert {k: res[k] for k in hand} == pytest.approx(hand, abs=1e-12)
    assert hand != pytest.approx(scores_by_hand(trainer, start), abs=1e-12)  # an untrained model scores otherwise
    assert res["epochs"] == 1 and res["history"][0]["loss"] > 0
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert saved["rank1"] == res["rank1"] and saved["config"]["method"] == method
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [x["kind"] for x in lines if x["kind"] != "step"] == ["epoch", "eval"]


def test_resume_continues_exactly_where_a_run_stopped(tmp_path, monkeypatch):
    from reidlib.engine.trainer import Trainer

    two = ["schedule.epochs=2"]
    straight = train(ci_config(tmp_path, overrides=two, name="straight"))

    original = Trainer._train_epoch
    calls = []

    def stop_in_second_epoch(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "_train_epoch", stop_in_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        train(ci_config(tmp_path, overrides=two, name="cut"))
    assert not list(tmp_path.rglob("train.lock"))  # a cut-off run leaves no lock behind
    monkeypatch.setattr(Trainer, "_train_epoch", original)
    resumed = train(ci_config(tmp_path, overrides=two, name="cut"))
    assert resumed["history"][0] == {**straight["history"][0], "seconds": resumed["history"][0]["seconds"],
                                     "images_per_second": resumed["history"][0]["images_per_second"],
                                     "data_wait_share": resumed["history"][0]["data_wait_share"]}
    assert resumed["history"][1]["loss"] == straight["history"][1]["loss"]
    assert (resumed["rank1"], resumed["mAP"]) == (straight["rank1"], straight["mAP"])
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    # a finished run returns its results without training again
    assert train(ci_config(tmp_path, overrides=two, name="cut"))["rank1"] == resumed["rank1"]


def test_checkpoints_of_another_model_or_config_are_refused(tmp_path):
    train(ci_config(tmp_path))
    with pytest.raises(CheckpointMismatch, match="holds a 'ide' model"):
        train(ci_config(tmp_path, "global_local"))
    with pytest.raises(CheckpointMismatch, match=r"optim\.lr: 0\.001 -> 0\.002"):
        train(ci_config(tmp_path, overrides=["optim.lr=0.002"]))
    fresh = train(ci_config(tmp_path, overrides=["optim.lr=0.002", "resume=false"]))
    assert fresh["config"]["optim"]["lr"] == 0.002


def test_empty_or_truncated_checkpoints_name_the_file_and_the_remedy(tmp_path):
    from reidlib.engine.checkpoint import CheckpointUnreadable, read_checkpoint, save_checkpoint
    from reidlib.engine.trainer import load_run

    good = tmp_path / "good.pt"
    save_checkpoint(good, {"model": resnet_small(widths=(8, 8, 8, 8)).state_dict(), "history": [1, 2]})
    data = good.read_bytes()
    assert read_checkpoint(good)["history"] == [1, 2]
    for size in (0, 1, 64, len(data) // 2, len(data) - 200, len(data) - 1):
        cut = tmp_path / f"cut{size}" / "checkpoint.pt"
        cut.parent.mkdir()
        cut.write_bytes(data[:size])
        want = "is empty" if size == 0 else re.escape(f"is truncated or corrupt ({size:,} bytes")
        with pytest.raises(CheckpointUnreadable, match=f"checkpoint {re.escape(str(cut))} {want}.*delete it to train"):
            read_checkpoint(cut)
    # where a run resumes and where a trained run is loaded
    cfg = ci_config(tmp_path, name="cut0")
    empty = tmp_path / "cut0" / "checkpoint.pt"
    with pytest.raises(CheckpointUnreadable, match=re.escape(f"checkpoint {empty} is empty")):
        train(cfg)
    with pytest.raises(CheckpointUnreadable, match="cut1"):
        load_run(tmp_path / "cut1")


def test_a_checkpoint_save_cut_off_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    from reidlib.engine.checkpoint import read_checkpoint, save_checkpoint

    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"epoch": 1})

    def killed(obj, f):  # a run killed half-way through writing
        with open(f, "wb") if isinstance(f, (str, os.PathLike)) else contextlib.nullcontext(f) as out:
            out.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {"epoch": 2})
    assert read_checkpoint(path)["epoch"] == 1


class TwoTasks(ReIDModel):
    """A tiny model with two tasks, to watch stages and alternation."""

    loss_names = ("id", "other")
    tasks: ClassVar = {"a": ("id",), "b": ("other",)}
    seen: ClassVar[list] = []

    def __init__(self, num_classes):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
        self.head = torch.nn.Linear(4, num_classes)
        self.other = torch.nn.Linear(4, 1)

    @classmethod
    def from_config(cls, config, num_classes, num_cameras):
        return cls(num_classes)

    def forward(self, batch):
        f = self.body(batch["image"])
        return {"feature": f, "embedding": f, "task": batch.get("task")}

    def losses(self, outputs, batch, task=None):
        assert outputs["task"] == task  # forward was told the batch's task too
        TwoTasks.seen.append(task)
        f = outputs["feature"]
        terms = {"id": torch.nn.functional.cross_entropy(self.head(f), batch["pid"]), "other": self.other(f).pow(2).mean()}
        return {k: v for k, v in terms.items() if task is None or k in self.tasks[task]}


def test_stages_freeze_what_they_do_not_train_and_alternate_tasks(tmp_path, monkeypatch):
    monkeypatch.setitem(registry.METHODS, "two_tasks", TwoTasks)  # a new method: one class, one entry
    base = make_config("ide", "ci", overrides=[f"output_dir={tmp_path / 'r'}", "data.erasing_p=0.0"])
    cfg = dataclasses.replace(base, method="two_tasks")
    cfg.loss.weights = {"id": 1.0, "other": 1.0}
    cfg.schedule.stages = build(TrainConfig, {"schedule": {"stages": [
        {"name": "heads", "epochs": 1, "train": ["head", "other"]},
        {"name": "all", "epochs": 1, "alternate": ["a", "b"], "lr": 0.01}]}}).schedule.stages
    TwoTasks.seen = []
    from reidlib.engine import trainer

    before = {}

    def remember(self, *a, **k):
        if not before:
            before.update({n: p.detach().clone() for n, p in self.model.named_parameters()})
        return original(self, *a, **k)

    original = trainer.Trainer._train_epoch
    monkeypatch.setattr(trainer.Trainer, "_train_epoch", remember)
    res = train(cfg)
    first_stage_steps = res["history"][0]["steps"]
    assert TwoTasks.seen[:first_stage_steps] == [None] * first_stage_steps
    assert TwoTasks.seen[first_stage_steps:first_stage_steps + 4] == ["a", "b", "a", "b"]
    assert [h["stage"] for h in res["history"]] == ["heads", "all"]
    assert res["history"][1]["lr"]["new"] == pytest.approx(0.01)
    ck = torch.load(tmp_path / "r" / "checkpoint.pt", weights_only=True)
    assert not torch.equal(ck["model"]["body.0.weight"], before["body.0.weight"])  # trained in stage 2
    with pytest.raises(ConfigError, match="not a submodule.*body, head, other"):
        bad = dataclasses.replace(cfg, output_dir=str(tmp_path / "bad"))
        bad.schedule = dataclasses.replace(bad.schedule, stages=[dataclasses.replace(cfg.schedule.stages[0], train=["bdy"])])
        train(bad)


def test_frozen_stage_leaves_the_backbone_untouched(tmp_path):
    cfg = ci_config(tmp_path, overrides=["schedule.stages=[{name: head, train: [classifier]}]"])
    res = train(cfg)
    assert res["history"][0]["stage"] == "head"
    ck = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["model"]
    torch.manual_seed(cfg.seed)  # the model is built right after seeding with the run seed
    untouched = registry.build_model(cfg, ck["classifier.weight"].shape[0], 2)
    fresh = untouched.state_dict()
    assert torch.equal(ck["backbone.stem.0.weight"], fresh["backbone.stem.0.weight"])
    assert torch.equal(ck["backbone.stem.1.running_mean"], fresh["backbone.stem.1.running_mean"])  # BN kept still
    assert not torch.equal(ck["classifier.weight"], fresh["classifier.weight"])


def test_cli_prints_config_and_reports_bad_keys(capsys):
    assert train_cli.main(["--method", "ide", "--profile", "cpu", "--set", "optim.lr=0.5", "--print-config"]) == 0
    out = capsys.readouterr().out
    assert "lr: 0.5" in out and "dataset: synth-small" in out
    with pytest.raises(ConfigError, match="data.heigth"):
        train_cli.main(["--method", "ide", "--set", "data.heigth=3", "--print-config"])


def test_a_trained_run_can_be_evaluated_again_on_other_test_sets(tmp_path):
    from reidlib.engine.trainer import load_run

    res = train(ci_config(tmp_path))
    again = load_run(tmp_path / "run")
    assert again.evaluate()["mAP"] == pytest.approx(res["mAP"])
    unseen = load_run(tmp_path / "run", ["data.test_dataset=synth-tiny",
                                         "data.test_dataset_options={scene_family: B, seed: 1}", "eval.rerank=true"])
    scores = unseen.evaluate()
    assert unseen.data.dataset.name == "synth-tiny->synth-tiny" and "rerank_mAP" in scores
    assert unseen.data.dataset.train == again.data.dataset.train  # same training split, other test split
    assert unseen.data.dataset.query != again.data.dataset.query
    feats, records = again.features("train")  # test transforms, record order: for KISSME / XQDA
    assert feats.shape[0] == len(records) == len(again.data.dataset.train)
    assert torch.equal(feats, again.features("train")[0])  # no augmentation
    masked = load_run(tmp_path / "run", ["data.test_background=mean_background"]).evaluate()
    assert masked["mAP"] != pytest.approx(res["mAP"])
    with pytest.raises(ConfigError, match="optim.lr changes what the run"):
        load_run(tmp_path / "run", ["optim.lr=0.1"])


def test_a_run_under_learned_distances(tmp_path):
    from reidlib.engine.distances import distance_scores
    from reidlib.engine.trainer import load_run

    train(ci_config(tmp_path))
    run = load_run(tmp_path / "run")
    scores = distance_scores(run, kissme_dim=16)
    assert set(scores) == {"euclidean", "kissme", "xqda", "xqda+rerank"}
    # Euclidean distances (the ci profile's eval.metric) rank as the engine's own evaluation does...
    plain = run.evaluate()
    assert scores["euclidean"] == pytest.approx({k: plain[k] for k in ("rank1", "mAP", "mINP")}, abs=1e-12)
    # ...and a learned metric, or re-ranking, ranks otherwise (one that was not applied would not)
    assert scores["kissme"] != scores["euclidean"] and scores["xqda"] != scores["euclidean"]
    assert scores["xqda+rerank"] != scores["xqda"]
    with pytest.raises(ValueError, match="unknown distance"):
        distance_scores(run, ("cosine",))


def test_the_progress_bar_redraws_at_its_own_pace_not_at_every_step(tmp_path, monkeypatch, capfd):
    # An executed notebook keeps every redraw of a training bar; at one a step a cpu study filled megabytes.
    import functools

    from reidlib.engine import trainer

    monkeypatch.setattr(trainer, "tqdm", functools.partial(trainer.tqdm, mininterval=30))  # as TQDM_MININTERVAL=30
    cfg = ci_config(tmp_path, overrides=["progress=true", "schedule.epochs=2", "data.num_workers=0"])
    train(cfg)
    bars = capfd.readouterr().err.count("main epoch")
    steps = sum(h["steps"] for h in json.loads((tmp_path / "run" / "results.json").read_text())["history"])
    assert steps >= 8 and bars == 2  # the opening draw of each epoch's bar, then none within 30 s


def test_train_step_names_where_a_loss_stops_being_finite(tmp_path):
    cfg = make_config("ide", "ci", overrides=[f"output_dir={tmp_path}"])
    trainer = Trainer(cfg)
    trainer._build()
    stage = trainer.stages[0]
    net = trainer._wrap(stage)
    optimizer = torch.optim.SGD(trainer.model.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    batch = fixed_batch(trainer)
    loss, terms = trainer.train_step(net, batch, None, stage, optimizer, scaler, where="epoch 1, step 1")
    assert torch.isfinite(loss) and set(terms) == {"id"}
    batch["image"] = torch.full_like(batch["image"], float("nan"))
    with pytest.raises(FloatingPointError, match=r"the loss became nan in stage 'main', epoch 2, step 7 \(terms: id="):
        trainer.train_step(net, batch, None, stage, optimizer, scaler, where="epoch 2, step 7")


def test_the_training_benchmark_times_the_step_from_outside_the_epoch(tmp_path):
    from reidlib.bench import train_bench

    cfg = make_config("bot", "ci", overrides=[f"output_dir={tmp_path}", "progress=false"])
    figures = train_bench.measure(cfg, steps=2, warmup=1)
    assert figures["steps"] == 2 and figures["images_per_second"] > 0 and 0 <= figures["data_wait_share"] < 1
    assert figures["device"] == "cpu" and figures["amp"] == "no"
    with pytest.raises(ValueError, match="fewer than --warmup"):
        train_bench.measure(cfg, steps=10_000, warmup=1)


def test_every_method_builds_itself_from_its_config():
    for method, entry in registry.METHODS.items():
        cls = registry.model_class(method)
        assert cls.from_config.__func__ is not ReIDModel.from_config.__func__, f"{entry} has no from_config"
    with pytest.raises(ConfigError, match="unknown method 'nope'; choose one of bgbias, bot"):
        registry.model_class("nope")
    with pytest.raises(NotImplementedError, match="TwoTasksWithout has no from_config"):
        type("TwoTasksWithout", (TwoTasks,), {"from_config": ReIDModel.__dict__["from_config"]}).from_config(None, 4, 2)

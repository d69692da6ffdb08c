"""The run lock: one process trains a run folder; others wait, and a dead owner's lock is taken over."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from reidlib.engine.runlock import LOCK_NAME, claim, run_lock


def test_the_lock_names_its_owner_and_goes_when_the_block_ends(tmp_path):
    with run_lock(tmp_path / "run") as path:
        holder = json.loads(path.read_text())
        assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
    assert not (tmp_path / "run" / LOCK_NAME).exists()


def test_the_lock_goes_when_the_block_fails(tmp_path):
    with pytest.raises(RuntimeError, match="boom"), run_lock(tmp_path):
        raise RuntimeError("boom")
    assert not (tmp_path / LOCK_NAME).exists()


def _held_by(folder: Path, pid: int, name: str = LOCK_NAME) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps({"host": socket.gethostname(), "pid": pid, "since": "now"}))
    return folder / name


def test_a_live_owner_is_waited_for_and_named(tmp_path, other_process):
    messages = []
    _held_by(tmp_path, other_process)
    with (pytest.raises(TimeoutError, match=f"process {other_process} on .*delete .*{LOCK_NAME}"),
          run_lock(tmp_path, timeout=0.2, poll=0.05, log=messages.append)):
        pass
    assert len(messages) == 1 and "waiting for process" in messages[0]
    assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == other_process  # not taken from its owner


def test_a_claim_takes_a_free_lock_and_leaves_a_held_one(tmp_path, other_process):
    with claim(tmp_path / "free") as mine:
        assert mine and json.loads((tmp_path / "free" / LOCK_NAME).read_text())["pid"] == os.getpid()
        with run_lock(tmp_path / "free", timeout=0.1, log=pytest.fail):  # the trainer's own lock goes straight in
            pass
        assert (tmp_path / "free" / LOCK_NAME).exists()  # still the claim's until its block ends
    assert not (tmp_path / "free" / LOCK_NAME).exists()

    held = _held_by(tmp_path / "held", other_process)
    with claim(tmp_path / "held") as mine:
        assert not mine
    assert json.loads(held.read_text())["pid"] == other_process

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=False)
    _held_by(tmp_path / "stale", int(gone.stdout))
    with claim(tmp_path / "stale") as mine:
        assert mine


_CLAIMANT = """
import sys, time
from pathlib import Path
from reidlib.engine.runlock import claim
folder, me = Path(sys.argv[1]), sys.argv[2]
(folder.parent / f"ready-{me}").touch()
while not (folder.parent / "go").exists():  # both claim at the same moment
    time.sleep(0.001)
with claim(folder) as mine:
    time.sleep(1.0)
    print(mine)
"""


def test_two_processes_claiming_one_run_together_get_it_once(tmp_path):
    procs = [subprocess.Popen([sys.executable, "-c", _CLAIMANT, str(tmp_path / "run"), str(i)], stdout=subprocess.PIPE,
                              text=True, cwd=Path(__file__).parents[1]) for i in range(2)]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready-{i}").exists() for i in range(2)) and time.monotonic() < deadline:
        time.sleep(0.01)
    (tmp_path / "go").touch()
    answers = sorted(p.communicate(timeout=60)[0].strip() for p in procs)
    assert answers == ["False", "True"]


def test_a_waiting_process_goes_on_once_the_owner_is_done(tmp_path):
    order = []

    def second():
        with run_lock(tmp_path, timeout=10, poll=0.02, log=lambda m: order.append("waited")):
            order.append("second")

    with run_lock(tmp_path):
        t = threading.Thread(target=second)
        t.start()
        time.sleep(0.2)
        order.append("first done")
    t.join(10)
    assert order == ["waited", "first done", "second"]


def test_the_lock_of_a_dead_process_is_taken_over(tmp_path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=False)
    dead_pid = int(gone.stdout)
    (tmp_path / LOCK_NAME).write_text(json.dumps({"host": socket.gethostname(), "pid": dead_pid, "since": "then"}))
    with run_lock(tmp_path, timeout=1, poll=0.05, log=pytest.fail) as path:
        assert json.loads(path.read_text())["pid"] == os.getpid()


@pytest.fixture
def other_process():
    """A live process other than this one, to hold a lock as a second notebook would."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc.pid
    proc.kill()
    proc.wait()


def test_runs_another_process_is_training_are_left_to_it_and_collected_last(tmp_path, monkeypatch, other_process):
    from reidlib.engine import make_config, run_seeds, trainer
    from reidlib.engine.seeds import seed_config, train_unclaimed

    monkeypatch.setattr(trainer, "RUNS_DIR", tmp_path / "runs")
    monkeypatch.delenv("REIDLIB_PARTIAL", raising=False)
    monkeypatch.delenv("REIDLIB_HELPER", raising=False)
    trained = []

    def fake_train(cfg):
        trained.append((cfg.model.dropout, cfg.seed))
        return {"seed": cfg.seed, "rank1": 0.5, "mAP": 0.25}

    monkeypatch.setattr(trainer, "train", fake_train)
    a = make_config("ide", "cpu", "synth-tiny")
    b = make_config("ide", "cpu", "synth-tiny", overrides=["model.dropout=0.5"])
    busy = seed_config(a, 1)  # the other process holds this run's lock
    (tmp_path / "runs").mkdir()
    Path(busy.output_dir).mkdir(parents=True)
    (Path(busy.output_dir) / LOCK_NAME).write_text(
        json.dumps({"host": socket.gethostname(), "pid": other_process, "since": "now"}))
    done = seed_config(b, 0)  # and this one is finished
    Path(done.output_dir).mkdir(parents=True)
    (Path(done.output_dir) / "results.json").write_text("{}")

    train_unclaimed([a, b], [0, 1])
    assert trained == [(0.0, 0), (0.5, 1)]  # a's seed 0 and b's seed 1: a's seed 1 is busy, b's seed 0 done

    trained.clear()
    runs = run_seeds(a, [0, 1, 2])["runs"]
    assert [seed for _, seed in trained] == [0, 2, 0, 1, 2]  # seeds 0 and 2 first; seed 1 waited for at its turn
    assert [r["seed"] for r in runs] == [0, 1, 2]

    # a helper (reidlib.notebooks --helper) does not wait: the held seed is left to its owner
    monkeypatch.setenv("REIDLIB_HELPER", "1")
    trained.clear()
    runs = run_seeds(a, [0, 1, 2])["runs"]
    assert [seed for _, seed in trained] == [0, 2, 0, 2]
    assert [r["seed"] for r in runs] == [0, 2]
    (Path(busy.output_dir) / LOCK_NAME).unlink()  # its owner finished (or died): the helper takes it on
    trained.clear()
    assert [r["seed"] for r in run_seeds(a, [0, 1, 2])["runs"]] == [0, 1, 2]


def test_the_ranks_of_a_torchrun_job_train_every_run_and_claim_none(tmp_path, monkeypatch, other_process):
    from reidlib.engine import make_config, trainer
    from reidlib.engine.seeds import seed_config, train_unclaimed

    monkeypatch.setattr(trainer, "RUNS_DIR", tmp_path / "runs")
    monkeypatch.delenv("REIDLIB_PARTIAL", raising=False)
    monkeypatch.setenv("WORLD_SIZE", "2")
    trained = []
    monkeypatch.setattr(trainer, "train", lambda cfg: trained.append(cfg.seed))
    a = make_config("ide", "cpu", "synth-tiny")
    busy = seed_config(a, 1)  # locked by rank 0, say: rank 1 must still train it, in step
    Path(busy.output_dir).mkdir(parents=True)
    (Path(busy.output_dir) / LOCK_NAME).write_text(
        json.dumps({"host": socket.gethostname(), "pid": other_process, "since": "now"}))
    train_unclaimed([a], [0, 1])
    assert trained == [0, 1]
    monkeypatch.setenv("WORLD_SIZE", "1")
    trained.clear()
    train_unclaimed([a], [0, 1])
    assert trained == [0]  # one process alone leaves the held run to its owner


def test_a_lock_can_guard_other_work_under_its_own_name(tmp_path, other_process):
    with run_lock(tmp_path, name="write.lock", doing="writing masks into") as path:
        assert path.name == "write.lock" and not (tmp_path / LOCK_NAME).exists()
    messages = []
    _held_by(tmp_path, other_process, name="write.lock")
    with (pytest.raises(TimeoutError, match="is writing masks into it"),
          run_lock(tmp_path, timeout=0.1, poll=0.05, log=messages.append, name="write.lock",
                   doing="writing masks into")):
        pass
    with run_lock(tmp_path, timeout=0.1):  # another name is another lock
        pass
    assert len(messages) == 1 and messages[0].endswith(f"which is writing masks into {tmp_path}")


def test_build_once_builds_what_is_missing_and_reuses_what_the_awaited_process_built(tmp_path, other_process):
    from reidlib.engine.runlock import build_once

    marker, built = tmp_path / "out" / "complete", []

    def build():
        built.append(1)
        marker.parent.mkdir(exist_ok=True)
        marker.write_text("done\n")

    build_once(marker.exists, build, tmp_path, "out.lock", "building")
    build_once(marker.exists, build, tmp_path, "out.lock", "building")
    assert built == [1] and not (tmp_path / "out.lock").exists()

    # Another process holds the lock and finishes the build while this one waits: nothing is built twice.
    marker.unlink()
    lock = tmp_path / "out.lock"
    lock.write_text(json.dumps({"host": socket.gethostname(), "pid": other_process, "since": "now"}))

    def the_other_finishes():
        time.sleep(0.3)
        marker.write_text("done by the other\n")
        lock.unlink()

    threading.Thread(target=the_other_finishes).start()
    build_once(marker.exists, build, tmp_path, "out.lock", "building", poll=0.05)
    assert built == [1] and marker.read_text() == "done by the other\n"

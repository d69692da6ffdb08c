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

from reidlib.engine.runlock import LOCK_NAME, run_lock


def test_the_lock_names_its_owner_and_goes_when_the_block_ends(tmp_path):
    with run_lock(tmp_path / "run") as path:
        holder = json.loads(path.read_text())
        assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
    assert not (tmp_path / "run" / LOCK_NAME).exists()


def test_the_lock_goes_when_the_block_fails(tmp_path):
    with pytest.raises(RuntimeError, match="boom"):
        with run_lock(tmp_path):
            raise RuntimeError("boom")
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_live_owner_is_waited_for_and_named(tmp_path):
    messages = []
    with run_lock(tmp_path):
        with pytest.raises(TimeoutError, match=f"process {os.getpid()} on .*delete .*{LOCK_NAME}"):
            with run_lock(tmp_path, timeout=0.2, poll=0.05, log=messages.append):
                pass
    assert len(messages) == 1 and "waiting for process" in messages[0]


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
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
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


def test_a_lock_can_guard_other_work_under_its_own_name(tmp_path):
    messages = []
    with run_lock(tmp_path, name="write.lock", doing="writing masks into") as path:
        assert path.name == "write.lock" and not (tmp_path / LOCK_NAME).exists()
        with pytest.raises(TimeoutError, match="is writing masks into it"):
            with run_lock(tmp_path, timeout=0.1, poll=0.05, log=messages.append, name="write.lock",
                          doing="writing masks into"):
                pass
        with run_lock(tmp_path, timeout=0.1):  # another name is another lock
            pass
    assert len(messages) == 1 and messages[0].endswith(f"which is writing masks into {tmp_path}")

"""The run lock: one process trains a run folder; others wait, and a dead owner's lock is taken over."""

import json
import os
import socket
import subprocess
import sys
import threading
import time

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

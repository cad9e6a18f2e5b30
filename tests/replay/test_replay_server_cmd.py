"""`vtrax replay-server`: its own process, logs its address, SIGINT/SIGTERM stop it after a final checkpoint."""

import os
import queue
import signal
import subprocess
import sys
import threading
import time

import numpy as np
from replay_testlib import REPO_ROOT, free_port

from vtrax import replay


def _lines(process):
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    return lines


def _wait_for_line(lines, text, seen, timeout_s=120.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        seen.append(line)
        if text in line:
            return line
    raise AssertionError(f"{text!r} not logged within {timeout_s}s; output so far:\n{''.join(seen)}")


def test_replay_server_command_serves_and_stops_with_a_final_checkpoint(tmp_path):
    port = free_port()
    command = [sys.executable, "-m", "vtrax.deploy.cli", "replay-server", "--port", str(port), "--checkpoint-dir",
               str(tmp_path), "--table-preset", "impala", "--num-envs", "2", "--unroll-length", "3",
               "--observation-shape", "2", "--num-actions", "3", "--host", "localhost"]
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL="2")
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = []
    try:
        lines = _lines(process)
        _wait_for_line(lines, f"replay server listening at localhost:{port}", seen)
        spec = replay.impala_step_spec((2,), np.float32, 3)
        with replay.SequenceAdder(f"localhost:{port}", "impala", spec, num_envs=2, unroll_length=3) as adder:
            for t in range(4):
                adder.append({name: np.full((2, *s.shape), t, s.dtype) for name, s in spec.items()})
        assert replay.info(f"localhost:{port}")["impala"]["current_size"] == 1
        process.send_signal(signal.SIGINT)
        _wait_for_line(lines, "SIGINT received: writing the final checkpoint", seen)
        assert process.wait(60) == 0
    finally:
        process.kill()
    checkpoints = [name for name in os.listdir(tmp_path) if os.path.isfile(tmp_path / name / "DONE")]
    assert len(checkpoints) == 1, seen

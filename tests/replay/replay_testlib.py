"""Helpers shared by the replay tests and their writer process (deterministic steps, processes, ports)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import numpy as np

from vtrax import replay

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WRITER_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_writer_process.py")

# Small step spec: observation [2] float32 = (t, env), 3 actions.
STEP_SPEC = replay.impala_step_spec((2,), np.float32, 3)
UNROLL = 5

SHARED_TABLES = [
    replay.TableConfig(kind="queue", name="seq_e1", step_spec=STEP_SPEC, num_envs=1, unroll_length=UNROLL,
                       max_size=64),
    replay.TableConfig(kind="queue", name="seq_e16", step_spec=STEP_SPEC, num_envs=16, unroll_length=UNROLL,
                       max_size=64),
    replay.TableConfig(kind="queue", name="backpressure", step_spec=STEP_SPEC, num_envs=2, unroll_length=2,
                       max_size=3),
    replay.TableConfig(kind="queue", name="malformed", step_spec=STEP_SPEC, num_envs=4, unroll_length=3,
                       max_size=64),
    replay.TableConfig(kind="prioritized", name="prioritized", step_spec=STEP_SPEC, num_envs=1, unroll_length=1,
                       max_size=16, priority_exponent=1.0),
    replay.TableConfig(kind="uniform", name="uniform", step_spec=STEP_SPEC, num_envs=2, unroll_length=2,
                       max_size=100, min_size_to_sample=2),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        return sock.getsockname()[1]


def make_step(t: int, num_envs: int) -> dict[str, np.ndarray]:
    """The deterministic step t of `_writer_process.py` (see there), for checking what comes out."""
    envs = np.arange(num_envs)
    return {
        "observation": np.stack([np.full(num_envs, t), envs], axis=-1).astype(np.float32),
        "action": ((7 * t + envs) % 3).astype(np.int32),
        "reward": (t + 0.5 * envs).astype(np.float32),
        "discount": np.where((t + envs) % 4 == 3, 0.0, 1.0).astype(np.float32),
        "valid": (t + envs) % 4 != 0,  # bool: the step after an episode end is the autoreset step
        "behaviour_logits": np.stack([np.full(num_envs, t), envs, -np.full(num_envs, t)], axis=-1).astype(np.float32),
        "param_version": np.full(num_envs, t // 3, np.int32),
    }


def start_writer(address: str, jobs: list[tuple[str, int, int, int]]) -> subprocess.Popen:
    """Run `_writer_process.py` in its own process; jobs are (table, num_envs, unroll_length, num_items)."""
    args = [f"{table}:{num_envs}:{unroll}:{items}" for table, num_envs, unroll, items in jobs]
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.Popen([sys.executable, WRITER_SCRIPT, address, *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def start_transition_server(table: str, num_envs: int, observation_size: int):
    """An in-process Reverb server with one prioritised table (exponent 1) of single n-step transitions."""
    spec = replay.transition_step_spec((observation_size,), np.float32)
    config = replay.TableConfig(kind="prioritized", name=table, step_spec=spec, num_envs=num_envs, unroll_length=1,
                                item_length=1, max_size=100, priority_exponent=1.0)
    return replay.start_server([config], host="127.0.0.1", checkpoint_period_s=None)

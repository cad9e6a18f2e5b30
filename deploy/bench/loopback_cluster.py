"""A real multi-node Ray cluster on this machine's loopback addresses, for the node-loss test and chaos bench.

    head     127.0.0.1  `ray start --head`             (tag <prefix>-head)
    node k   127.0.0.k  `ray start --address head`     (tag <prefix>-<name>)

Every process of a node carries `VTRAX_TEST_TAG=<tag>` in its environment (Ray
passes it on to the workers it starts), which is how one node is SIGKILLed
whole (`kill_node`: raylet, agents, workers) and how `stop` cleans up exactly
what it started: never `ray stop`, which would stop every Ray on the machine.
Ray's health checks run 1 s apart with 3 misses, so a dead node is declared
dead in ~3 s instead of Ray's default ~30 s.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil

RAY_CLI = Path(sys.executable).parent / "ray"
TAG_VARIABLE = "VTRAX_TEST_TAG"
HEALTH_CHECKS = {"RAY_health_check_period_ms": "1000", "RAY_health_check_timeout_ms": "1000",
                 "RAY_health_check_failure_threshold": "3"}


class ClusterError(RuntimeError):
    """`ray start` failed; the message holds its output."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def node_flags(ip: str) -> list[str]:
    """Free ports for every server of one node: the nodes share this machine's port space."""
    ports = ("node-manager", "object-manager", "dashboard-agent-listen", "dashboard-agent-grpc", "runtime-env-agent",
             "metrics-export")
    return [f"--node-ip-address={ip}", "--disable-usage-stats", *(f"--{name}-port={free_port()}" for name in ports)]


def tagged(tag: str) -> list[psutil.Process]:
    """The processes whose environment carries `tag`."""
    found = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):
            if process.environ().get(TAG_VARIABLE) == tag:
                found.append(process)
    return found


def kill_tagged(tag: str) -> list[psutil.Process]:
    """SIGKILL every process tagged `tag`, again until none is left (a dying raylet may still start one)."""
    killed = []
    for _ in range(10):
        processes = tagged(tag)
        if not processes:
            break
        for process in processes:
            with contextlib.suppress(psutil.Error):
                process.send_signal(signal.SIGKILL)
        psutil.wait_procs(processes, timeout=10)
        killed += processes
    return killed


class LoopbackCluster:
    """Start a head on 127.0.0.1 (`address` is its GCS), add and kill nodes; `stop` kills what it started."""

    def __init__(self, prefix: str, head_cpus: int):
        self.prefix = prefix
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.temp_dir = Path(tempfile.mkdtemp(prefix="vtrax-cluster-", dir="/tmp"))  # NOTE: short: socket paths
        self.tags: dict[str, str] = {}
        try:
            self._start("head", "--head", f"--port={self.port}", f"--num-cpus={head_cpus}",
                        "--include-dashboard=false", f"--ray-client-server-port={free_port()}",
                        f"--temp-dir={self.temp_dir}", *node_flags("127.0.0.1"))
        except BaseException:
            self.stop()
            raise

    def tag(self, name: str) -> str:
        """The environment tag of node `name` (or of a process the caller starts under that name)."""
        return self.tags.setdefault(name, f"{self.prefix}-{name}")

    def add_node(self, name: str, ip: str, num_cpus: int) -> None:
        self._start(name, f"--address={self.address}", f"--num-cpus={num_cpus}", *node_flags(ip))

    def kill_node(self, name: str) -> list[psutil.Process]:
        """SIGKILL every process of node `name` at once; returns them."""
        return kill_tagged(self.tag(name))

    def stop(self) -> None:
        for tag in list(self.tags.values()):
            kill_tagged(tag)
        shutil.rmtree(self.temp_dir, ignore_errors=True)
        current = Path("/tmp/ray/ray_current_cluster")  # NOTE: `ray start --head` left it; only ours goes
        with contextlib.suppress(OSError):
            if current.read_text().strip().endswith(f":{self.port}"):
                current.unlink()

    def _start(self, name: str, *flags: str) -> None:
        env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", **HEALTH_CHECKS, **{TAG_VARIABLE: self.tag(name)})
        if "--head" not in flags:
            env["RAY_AUTH_MODE"] = "token"  # NOTE: a node joins a head with token authentication only when told so
        started = subprocess.run([str(RAY_CLI), "start", *flags], capture_output=True, text=True, timeout=90, env=env)
        if started.returncode != 0:
            raise ClusterError(f"`ray start {' '.join(flags)}` failed:\n{started.stdout[-2000:]}{started.stderr[-2000:]}")

"""A Ray cluster of one node that `vtrax status` and Ray-start tests can join, and the processes under a pid."""

import subprocess
import sys
import types

import psutil
import pytest

# A local head started the way `vtrax train` starts one; it lives until its stdin closes.
# NOTE: not `ray start --head`: that writes /tmp/ray/ray_current_cluster, which other Ray users of
# this machine would then join; and address="local", so that such a file (or another Ray) is never joined.
CLUSTER = """
import sys
from vtrax.deploy.runtime.ray_head import init_ray
import ray
init_ray(address="local", _node_ip_address="127.0.0.1", num_cpus=1, include_dashboard=False, logging_level="ERROR")
print(ray.get_runtime_context().gcs_address, flush=True)
sys.stdin.read()
"""


@pytest.fixture(scope="module")
def local_ray_cluster():
    """(process, gcs_address) of a one-node Ray cluster in a child process; stopped after the module."""
    process = subprocess.Popen([sys.executable, "-c", CLUSTER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True)
    try:
        address = process.stdout.readline().strip()
        assert address, f"the Ray cluster did not start (exit code {process.poll()})"
        yield types.SimpleNamespace(process=process, address=address)
    finally:
        process.stdin.close()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def _descendant_commands(pid: int) -> list[str]:
    found = []
    for child in psutil.Process(pid).children(recursive=True):
        try:
            found.append(" ".join(child.cmdline()))
        except psutil.Error:
            continue
    return found


@pytest.fixture(scope="session")
def descendant_commands():
    """pid -> the command lines of every process below it (Ray's processes are children of the driver)."""
    return _descendant_commands

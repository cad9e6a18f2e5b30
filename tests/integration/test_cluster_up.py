"""`ray up` for real: deploy/cluster-loopback.yaml's two nodes up, trained on, submitted to, torn down.

The commands are deploy/README.md's cluster walkthrough, run from a "laptop" against a head sshd on
127.0.0.1 and a worker sshd on 127.0.0.2 (tests/integration/loopback_hosts.py). Every socket lives
in a network namespace with only `lo`, so nothing is reachable from outside this box.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from loopback_hosts import LoopbackHosts, Unavailable, wait_for  # noqa: I001 (tests/integration is on sys.path)

CLUSTER = "deploy/cluster-loopback.yaml"
TRAIN = "vtrax train --address auto --preset cartpole --max-seconds 120"
STATUS = "vtrax status --address auto"
AUTHORIZED_KEYS = Path("/root/.ssh/authorized_keys")

pytestmark = pytest.mark.timeout(900)  # with apt-get installing openssh-server and rsync on a fresh machine


@pytest.fixture(scope="module")
def hosts():
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("the loopback cluster needs root on Linux (sshd, namespaces)")
    keys_before = AUTHORIZED_KEYS.read_bytes() if AUTHORIZED_KEYS.exists() else None
    machines = LoopbackHosts(Path(sys.executable).parent)
    try:
        machines.start()
    except Unavailable as error:  # NOTE: a failure, not a skip: CI must prove the cluster walkthrough
        machines.stop()
        pytest.fail(f"the loopback cluster could not be set up: {error}")
    try:
        yield machines
    finally:
        machines.stop()
        after = AUTHORIZED_KEYS.read_bytes() if AUTHORIZED_KEYS.exists() else None
        assert after == keys_before, "the test changed /root/.ssh/authorized_keys"


def _ok(result):
    assert result.returncode == 0, f"{result.args[-4:]}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def _timed(hosts, argv, timeout):
    start = time.monotonic()
    result = _ok(hosts.laptop(argv, timeout=timeout))
    return result, time.monotonic() - start


def _summary(runs: Path) -> dict:
    (run_dir,) = runs.glob("CartPole-v1-*")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["stopped_because"] == "target_return", summary
    assert Path(summary["final_checkpoint"]).is_dir(), "the learner's checkpoint is not where the driver says"
    return summary


def _ray_list(hosts, runs: Path, kind: str, *flags: str) -> list[dict]:
    """`ray list KIND` on the head (Ray's state API), through a file: `ray exec` mixes its own log into stdout."""
    out = runs / f"{kind}.json"
    out.parent.mkdir(exist_ok=True)
    command = f"RAY_AUTH_MODE=token ray list {kind} --format json --limit 1000 {' '.join(flags)} > {out}"
    result = hosts.laptop(["ray", "exec", CLUSTER, command])
    return json.loads(out.read_text()) if result.returncode == 0 else []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_ray_up_trains_on_two_nodes_takes_a_job_and_ray_down_leaves_nothing(hosts):
    figures = {}
    _ok(hosts.laptop(["ray", "get-auth-token", "--generate"]))
    _, figures["ray_up_s"] = _timed(hosts, ["ray", "up", "-y", CLUSTER], timeout=300)
    try:
        _train_status_and_job(hosts, figures)
    except AssertionError as error:
        if not any("gcs_server" in line for line in hosts.node_processes("127.0.0.1")):
            raise AssertionError(f"{error}\nThe head's Ray is gone: did something on this machine run `ray stop`? "
                                 "From the host's PID namespace it stops every node's Ray too.") from error
        raise
    _, figures["ray_down_s"] = _timed(hosts, ["ray", "down", "-y", CLUSTER], timeout=120)
    # NOTE: without Docker, `ray down` stops Ray on the head only; deploy/README.md's last step stops the workers.
    hosts.ssh("127.0.0.2", "ray stop")
    for ip in hosts.node_ips:
        wait_for(lambda ip=ip: not hosts.node_processes(ip), 60, f"every process on {ip} to exit")
    listening = hosts.listening()
    assert sorted(listening) == sorted(f"{ip}:22" for ip in hosts.node_ips), listening
    print(json.dumps(figures))


def _train_status_and_job(hosts, figures):
    runs = hosts.root / "runs"  # NOTE: on every node: the driver (head) and learner (worker) share it
    wait_for(lambda: any("raylet" in line for line in hosts.node_processes("127.0.0.2")), 120, "the worker's raylet")
    alive = wait_for(lambda: len(nodes := _ray_list(hosts, runs, "nodes", "--filter", "state=ALIVE")) == 2 and nodes,
                     60, "both nodes alive in Ray")
    assert sorted(node["node_ip"] for node in alive) == list(hosts.node_ips)

    _, figures["train_s"] = _timed(hosts, ["ray", "exec", CLUSTER, f"{TRAIN} --logdir {runs / 'exec'}"], timeout=240)
    figures["seconds_to_target"] = _summary(runs / "exec")["seconds_to_target"]
    node_ips = {node["node_id"]: node["node_ip"] for node in alive}
    actors = _ray_list(hosts, runs, "actors", "--detail")
    placed = {(actor["class_name"], node_ips.get(actor["node_id"])) for actor in actors}
    assert ("ActorWorker", "127.0.0.2") in placed and ("LearnerWorker", "127.0.0.2") in placed, placed
    assert not [name for name, ip in placed if ip == "127.0.0.1" and name != "JobSupervisor"], \
        "the head advertises 0 CPUs: no vtrax actor belongs there"

    # `ray job submit` through the dashboard, reached the safe way: `ray dashboard` forwards it over ssh.
    port = _free_port()
    forward = hosts.laptop(["ray", "dashboard", "--port", str(port), CLUSTER], timeout=0, background=True)
    try:
        address = f"http://127.0.0.1:{port}"
        job_env = hosts.laptop_env(RAY_AUTH_MODE="token")
        wait_for(lambda: hosts.laptop(["ray", "job", "list", "--address", address], env=job_env).returncode == 0,
                 60, "the forwarded dashboard")
        submitted = _ok(hosts.laptop(["ray", "job", "submit", "--address", address, "--no-wait", "--",
                                      *TRAIN.split(), "--logdir", str(runs / "job")], env=job_env))
        job_id = re.search(r"raysubmit_\w+", submitted.stdout + submitted.stderr).group(0)
        status = wait_for(lambda: "CartPole-v1" in (r := hosts.laptop(["ray", "exec", CLUSTER, STATUS])).stdout
                          and r.returncode == 0 and r, 120, "`vtrax status` to report the job's run")
        assert re.search(r"\d+ updates", status.stdout), status.stdout[-2000:]
        logs = hosts.laptop(["ray", "job", "logs", "--address", address, "--follow", job_id], env=job_env,
                            timeout=240)
        job = _ok(hosts.laptop(["ray", "job", "status", "--address", address, job_id], env=job_env))
        assert "succeeded" in (job.stdout + job.stderr).lower(), logs.stdout[-3000:]
        _summary(runs / "job")
    finally:
        os.killpg(forward.pid, signal.SIGTERM)  # `ray dashboard` and its ssh tunnel
        forward.wait(timeout=30)


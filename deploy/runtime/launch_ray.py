"""The Ray launcher (`vtrax train --launcher ray`, the default): one process per role.

    driver ──► ReplayServerProcess (own OS process, on this/head node)
       ├────► LearnerWorker (Ray actor; GPUs on clusters) ── ReplayDataset ◄─ Reverb
       └────► ActorWorker × N (Ray actors, 1 CPU each) ── SequenceAdder ─► Reverb
                    ▲ params: the learner ray.put()s each version, actors pull the newest ref

Locally `ray.init` starts Ray on this machine; with `--address` it joins a cluster.
Ray restarts a dead actor (`actor_max_restarts`) or learner (`learner_max_restarts`;
it restores the newest checkpoint) process; the driver notices by a changed pid.
A lost node (`lost_nodes`) takes its actors along: Ray restarts them as soon as a node has a
free CPU (a node that rejoins); until then the run goes on with the actors that remain.
A dead Reverb server is restarted here, on the same address (`supervise_replay`),
from the newest replay checkpoint when its table is checkpointed (replay_checkpoints.py).
"""

from __future__ import annotations

import concurrent.futures
import logging
import time
import uuid
from typing import Any

import ray

from vtrax.deploy.config import TrainConfig, resolved_num_actors
from vtrax.deploy.runtime.errors import ROLE_DIED, StartupTimeout, TrainingError, cause
from vtrax.deploy.runtime.names import LEARNER_PREFIX, STATUS_NAMESPACE
from vtrax.deploy.runtime.ray_address import AddressError, check_reachable, use_local_token
from vtrax.deploy.runtime.ray_head import init_ray
from vtrax.deploy.runtime.replay_checkpoints import (ReplayCheckpointing, ReplayRestore, items_lost,
                                                     restart_message, restore_of)
from vtrax.deploy.agents import get_agent
from vtrax.deploy.runtime.manifest import LearnerResume
from vtrax.deploy.runtime.workers import ActorWorker, LearnerWorker


def check_address(address: str | None, timeout_s: float = 3.0) -> None:
    """Fail fast, in one sentence, when a host:port Ray address does not answer."""
    try:
        check_reachable(address, timeout_s=timeout_s,
                        fix="start one with `ray start --head` or `ray up`, or drop --address to train on this machine")
    except AddressError as error:
        raise TrainingError(str(error)) from None


class RayParameterSource:
    """`actors.ParameterSource` over the learner actor: one small RPC in flight at a time.

    Built in the driver and shipped to the actor process, it finds the learner by
    name there: a restarted actor gets its arguments again, and Ray cannot restore
    actor handles passed as arguments (ray-project/ray#53727).
    """

    def __init__(self, learner_name: str):
        self._learner_name = learner_name
        self._learner = None
        self._version = -1
        self._pending = None

    def _handle(self):
        if self._learner is None:
            self._learner = ray.get_actor(self._learner_name, namespace=STATUS_NAMESPACE)
        return self._learner

    def wait_first(self, timeout_s: float):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                latest = ray.get(self._handle().latest_params.remote(self._version))
            except ray.exceptions.RayActorError:  # the learner restarts: ask again
                latest = None
            if latest is not None:
                return self._take(latest)
            time.sleep(0.05)
        raise TimeoutError(f"no parameters from the learner within {timeout_s:.0f} s; is the learner running?")

    def latest(self):
        if self._pending is None:
            self._pending = self._handle().latest_params.remote(self._version)
            return None
        ready, _ = ray.wait([self._pending], timeout=0)
        if not ready:
            return None
        pending, self._pending = self._pending, None
        try:
            latest = ray.get(pending)
        except ray.exceptions.RayActorError:
            # NOTE: the learner died; its restarted self restores an older version, which
            # must still count as new: act on the old params until it publishes.
            self._version = -1
            return None
        return None if latest is None else self._take(latest)

    def _take(self, latest):
        version, (ref,) = latest
        self._version = version
        return version, ray.get(ref)


class RayLauncher:
    """Starts and stops the roles as Ray actors; every call to a role goes through here."""

    name = "ray"

    def __init__(self):
        self._replay = self._learner = None
        self._replay_options: dict[str, Any] = {}
        self._actors: list[Any] = []
        self.learner_name = f"{LEARNER_PREFIX}{uuid.uuid4().hex[:12]}"
        self.replay_restarts = 0
        self.replay_restore: ReplayRestore | None = None  # what the newest server start loaded
        self.replay_items_lost = 0
        self.nodes_lost = 0
        self._nodes: dict[str, str] = {}  # node id -> IP of the cluster's nodes alive at the last look
        self._stats_calls: dict[int, Any] = {}  # actor index -> its stats call still in flight
        self._failed_stats: set[int] = set()  # actors whose last stats call failed (dead or restarting)

    def start(self, config: TrainConfig, table, checkpointing: ReplayCheckpointing) -> str:
        """Ray and the Reverb server (loading the newest replay checkpoint, if any); returns its address."""
        check_address(config.address)
        self._replay_options = {"tables": [table], "checkpoint_dir": checkpointing.directory,
                                "checkpoint_period_s": checkpointing.period_s}
        with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="replay-start") as pool:
            replay_start = None
            if not config.address:  # NOTE: Reverb's start (TF import) overlaps Ray's in a thread
                replay_start = pool.submit(self._start_replay, host="127.0.0.1")
            self._init_ray(config)
            self.lost_nodes()  # NOTE: the nodes alive now, so that one lost before the first report counts
            self._replay = (self._start_replay(host=ray.util.get_node_ip_address())
                            if replay_start is None else replay_start.result())
        if checkpointing.directory:
            self.replay_restore = restore_of(self._replay, table.name)
        return self._replay.address

    def _start_replay(self, **where: Any):
        from vtrax import replay

        try:
            return replay.ReplayServerProcess(**self._replay_options, **where)
        except replay.ReplayServerError as error:
            raise TrainingError(str(error)) from None

    def _init_ray(self, config: TrainConfig) -> None:
        kwargs: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": True,
                                  "namespace": STATUS_NAMESPACE}
        if config.address:
            kwargs["address"] = config.address
            use_local_token(config.address)
        else:
            # NOTE: "local" starts a private Ray even when another one runs on this machine
            # (or a stale /tmp/ray/ray_current_cluster is left); it listens on loopback only.
            kwargs["address"] = "local"
            kwargs["_node_ip_address"] = "127.0.0.1"
            kwargs["num_cpus"] = max(resolved_num_actors(config) + 1, 2)
            kwargs["include_dashboard"] = config.dashboard
            if config.metrics_export_port:
                kwargs["_metrics_export_port"] = config.metrics_export_port

        try:
            init_ray(**kwargs)
        except (ConnectionError, RuntimeError) as error:
            raise TrainingError(f"cannot join the Ray cluster at {config.address!r} ({error}); "
                                "start it with `ray up`/`ray start --head`, or drop --address") from None

    def start_learner(self, config: TrainConfig, spec, replay_address: str, run_dir: str, resume: bool,
                      named: LearnerResume | None = None) -> None:
        # NOTE: a name unique to this run: actors look the learner up by it (RayParameterSource).
        options = {"num_cpus": 1, "num_gpus": config.learner_num_gpus, "max_concurrency": 8,
                   "max_restarts": config.learner_max_restarts, "name": self.learner_name,
                   "namespace": STATUS_NAMESPACE}
        remote = ray.remote(**options)(LearnerWorker)
        self._learner = remote.remote(config, spec, replay_address, run_dir, resume, ray.put, named=named)

    def wait_learner(self, timeout_s: float) -> None:
        """Until the learner is built (network compiled, checkpoint restored) and its loop runs."""
        try:
            ray.get(self._learner.start.remote(), timeout=timeout_s)
        except (ray.exceptions.RayActorError, ray.exceptions.RayTaskError) as error:
            raise TrainingError(f"the learner failed to start: {cause(error)}") from None
        except ray.exceptions.GetTimeoutError:
            raise StartupTimeout(f"the learner was not ready within the {timeout_s:.0f} s that --max-seconds left "
                                 "for start-up") from None

    def start_actors(self, config: TrainConfig, spec, replay_address: str) -> int:
        remote = ray.remote(num_cpus=1, max_restarts=config.actor_max_restarts, max_concurrency=4,
                            runtime_env={"env_vars": {"JAX_PLATFORMS": "cpu", "XLA_FLAGS": ""}})(ActorWorker)
        num_actors = self._num_actors(config)
        self._actors = [remote.remote(index, config, spec, replay_address, RayParameterSource(self.learner_name),
                                      num_actors=num_actors)
                        for index in range(num_actors)]
        if get_agent(config.agent).has_evaluator:
            # NOTE: no CPU reserved: the evaluator is one small vector of envs; reserving one would leave it
            # pending on a laptop where every core already runs an actor or the learner.
            evaluator = ray.remote(num_cpus=0, max_restarts=config.actor_max_restarts, max_concurrency=4,
                                   runtime_env={"env_vars": {"JAX_PLATFORMS": "cpu", "XLA_FLAGS": ""}})(ActorWorker)
            self._actors.append(evaluator.remote(num_actors, config, spec, replay_address,
                                                 RayParameterSource(self.learner_name), evaluator=True))
        return num_actors

    def _num_actors(self, config: TrainConfig) -> int:
        """The configured count; with --address and none configured, one per cluster CPU beyond the learner's."""
        if config.num_actors or not config.address:
            return resolved_num_actors(config)
        spare = int(ray.cluster_resources().get("CPU", 0)) - 1
        if spare < 1:
            raise TrainingError(f"the Ray cluster has no CPU for actors beyond the learner's ("
                                f"{ray.cluster_resources().get('CPU', 0):g} CPUs now); pass --num-actors N, "
                                "and an autoscaling cluster adds nodes for them")
        return spare

    def start_learner_loop(self) -> None:
        """Start a restarted learner's loop (it waits for this, as at start-up); returns at once."""
        self._learner.start.remote()

    def learner_status(self, timeout_s: float = 60.0) -> dict[str, Any] | None:
        """The learner's counters, or None while it does not answer (dead, or restarting)."""
        try:
            return ray.get(self._learner.status.remote(), timeout=timeout_s)
        except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError):
            return None

    def supervise_replay(self, inserts_seen: int | None = None) -> str | None:
        """Restart a dead Reverb server on the same address, from the newest replay checkpoint if its table
        is checkpointed; returns what happened, for the console.

        Args:
          inserts_seen: the dead server's insert count as last reported (to count the items lost).
        """
        if self._replay is None or self._replay.is_alive():
            return None
        dead, self._replay = self._replay, None
        self._replay = self._start_replay(host=dead.address.rsplit(":", 1)[0], port=dead.port)
        self.replay_restarts += 1
        if not self._replay_options["checkpoint_dir"]:
            return (f"the replay server died (exit code {dead.returncode}); restarted it at {self._replay.address}. "
                    "Its on-policy queue restarts empty: the unrolls waiting in it were lost, actors write new ones")
        self.replay_restore = restore_of(self._replay, self._replay_options["tables"][0].name)
        lost = items_lost(self.replay_restore, inserts_seen)
        self.replay_items_lost += lost or 0
        return restart_message(dead.returncode, self._replay.address, self.replay_restore, lost)

    def actor_stats(self, skip: set[int], timeout_s: float = 10.0) -> dict[int, Any]:
        """index -> stats dict, or ROLE_DIED; actors in `skip` and those that do not answer in time are absent.

        NOTE: one stats call per actor in flight: an actor that does not answer (its node is gone and Ray
        waits for a free CPU to restart it) keeps its call, and is not waited for again, nor is one whose
        last call failed (it restarts); a late answer is read at the next poll, so no episode is lost.
        """
        waiting = set(self._stats_calls) | self._failed_stats
        for index, actor in enumerate(self._actors):
            if index not in skip and index not in self._stats_calls:
                self._stats_calls[index] = actor.stats.remote()
        fresh = [ref for index, ref in self._stats_calls.items() if index not in waiting]
        ready = set(ray.wait(fresh, num_returns=len(fresh), timeout=timeout_s)[0]) if fresh else set()
        late = [ref for index, ref in self._stats_calls.items() if index in waiting]
        if late:
            ready.update(ray.wait(late, num_returns=len(late), timeout=0)[0])
        answers = {}
        for index, ref in list(self._stats_calls.items()):
            if ref not in ready:
                continue
            del self._stats_calls[index]
            self._failed_stats.discard(index)
            try:
                answers[index] = ray.get(ref)
            except ray.exceptions.RayActorError:
                answers[index] = ROLE_DIED
                self._failed_stats.add(index)
        return answers

    def lost_nodes(self) -> list[str]:
        """The cluster's nodes that died since the last call (IP and id), each once; counted in `nodes_lost`."""
        alive = {node["NodeID"]: node["NodeManagerAddress"] for node in ray.nodes() if node["Alive"]}
        lost = [f"{ip} (node {node_id[:12]})" for node_id, ip in self._nodes.items() if node_id not in alive]
        self._nodes = alive
        self.nodes_lost += len(lost)
        return lost

    def publish_report(self, report: dict[str, Any]) -> None:
        self._learner.publish_report.remote(report)

    def metrics(self):
        """What records each report as Prometheus gauges (Ray serves them)."""
        from vtrax.deploy.monitoring.ray_metrics import RayMetrics

        return RayMetrics()

    def stop(self, on_error) -> str | None:
        """Stop actors, then save the learner, then Reverb and Ray. Never raises; returns the final checkpoint."""
        checkpoint = None
        if ray.is_initialized():
            # NOTE: an actor whose stats call is still in flight is not running (its node is gone): no wait for it.
            stops = [actor.stop.remote() for index, actor in enumerate(self._actors) if index not in self._stats_calls]
            ray.wait(stops, num_returns=len(stops), timeout=20)
            if self._learner is not None:
                try:
                    checkpoint = ray.get(self._learner.stop_and_save.remote(), timeout=120)
                except Exception as error:  # noqa: BLE001 - report, keep shutting down
                    on_error(f"final checkpoint failed: {cause(error)}")
            for handle in [*self._actors, self._learner]:
                if handle is not None:
                    ray.kill(handle, no_restart=True)
        if self._replay is not None:
            self._replay.stop()
        if ray.is_initialized():
            ray.shutdown()
        return checkpoint


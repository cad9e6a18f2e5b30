"""The local launcher (`vtrax train --launcher local`): every role in the driver's process.

    driver process
      ├── Reverb server (in-process, replay.start_server)
      ├── LearnerWorker (its loop on a thread) ── ReplayDataset ◄─ Reverb
      └── ActorWorker × N (each loop on a thread) ── SequenceAdder ─► Reverb
                ▲ params: actors read the learner's newest (version, params) directly

The same worker classes as under Ray, with no Ray at all: for a breakpoint in any
role, a profiler over the whole run, fast tests, and the least memory and start-up.
Nothing restarts a role here: an actor whose loop dies is reported and stays down.
"""

from __future__ import annotations

import concurrent.futures
import time
from typing import Any

from vtrax.deploy.agents import get_agent
from vtrax.deploy.config import TrainConfig, resolved_num_actors
from vtrax.deploy.runtime.errors import TrainingError, cause
from vtrax.deploy.runtime.replay_checkpoints import ReplayCheckpointing, ReplayRestore, restore_of
from vtrax.deploy.runtime.manifest import LearnerResume
from vtrax.deploy.runtime.workers import ActorWorker, LearnerWorker


class LearnerParameterSource:
    """`actors.ParameterSource` reading the learner worker in this process."""

    def __init__(self, learner: LearnerWorker):
        self._learner = learner
        self._version = -1

    def wait_first(self, timeout_s: float):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            latest = self.latest()
            if latest is not None:
                return latest
            time.sleep(0.01)
        raise TimeoutError(f"no parameters from the learner within {timeout_s:.0f} s; is the learner running?")

    def latest(self):
        latest = self._learner.latest_params(self._version)
        if latest is None:
            return None
        version, (params,) = latest
        self._version = version
        return version, params


class _NoMetrics:
    """Prometheus export needs Ray's metrics agent, which the local launcher does not start."""

    def record(self, report) -> None:
        del report


class LocalLauncher:
    """Builds the roles in this process; calls to them are plain method calls."""

    name = "local"

    replay_restarts = 0  # the in-process server lives and dies with the driver
    replay_items_lost = 0
    nodes_lost = 0  # one process on one machine

    def __init__(self):
        self._replay = self._learner = None
        self._actors: list[ActorWorker] = []
        self.replay_restore: ReplayRestore | None = None

    def start(self, config: TrainConfig, table, checkpointing: ReplayCheckpointing) -> str:
        """The in-process Reverb server (loading the newest replay checkpoint, if any); returns its address."""
        from vtrax import replay

        del config  # TrainConfig refuses --address with the local launcher
        try:
            self._replay = replay.start_server([table], host="127.0.0.1", checkpoint_dir=checkpointing.directory,
                                               checkpoint_period_s=checkpointing.period_s)
        except ValueError as error:  # Reverb: a checkpoint whose tables have other names
            raise TrainingError(f"the replay server could not load {checkpointing.directory}: {error}") from None
        if checkpointing.directory:
            self.replay_restore = restore_of(self._replay, table.name)
        return self._replay.address

    def start_learner(self, config: TrainConfig, spec, replay_address: str, run_dir: str, resume: bool,
                      named: LearnerResume | None = None) -> None:
        self._learner = LearnerWorker(config, spec, replay_address, run_dir, resume, named=named)
        try:  # NOTE: built in this thread: fail before actors wait for its first parameters
            self._learner.check_built()
        except ValueError as error:
            raise TrainingError(f"the learner failed to start: {cause(error)}") from None

    def wait_learner(self, timeout_s: float) -> None:
        del timeout_s  # the learner was built in this thread: it is ready
        self._learner.start()

    def start_actors(self, config: TrainConfig, spec, replay_address: str) -> int:
        num_actors = resolved_num_actors(config)
        self._actors = [ActorWorker(index, config, spec, replay_address, LearnerParameterSource(self._learner),
                                    exit_on_error=False, num_actors=num_actors)
                        for index in range(num_actors)]
        if get_agent(config.agent).has_evaluator:  # after the acting actors, as the driver expects
            self._actors.append(ActorWorker(num_actors, config, spec, replay_address,
                                            LearnerParameterSource(self._learner), exit_on_error=False,
                                            evaluator=True))
        return num_actors

    def start_learner_loop(self) -> None:
        self._learner.start()

    def learner_status(self, timeout_s: float = 60.0) -> dict[str, Any]:
        del timeout_s  # a local call cannot hang on a network
        return self._learner.status()

    def supervise_replay(self, inserts_seen: int | None = None) -> None:
        """Nothing to do: the in-process Reverb server cannot die without the driver."""
        del inserts_seen

    def lost_nodes(self) -> list[str]:
        """None: every role runs in this process."""
        return []

    def actor_stats(self, skip: set[int], timeout_s: float = 10.0) -> dict[int, Any]:
        del timeout_s
        return {index: actor.stats() for index, actor in enumerate(self._actors) if index not in skip}

    def publish_report(self, report: dict[str, Any]) -> None:
        self._learner.publish_report(report)

    def metrics(self) -> _NoMetrics:
        return _NoMetrics()

    def stop(self, on_error) -> str | None:
        """Stop actors, then save the learner, then Reverb. Never raises; returns the final checkpoint."""
        checkpoint = None
        # NOTE: all actors at once, as the Ray launcher does: each may wait out its stop grace (workers.py).
        with concurrent.futures.ThreadPoolExecutor(max(1, len(self._actors)), "actor-stop") as pool:
            stops = [pool.submit(actor.stop) for actor in self._actors]
        for stop in stops:
            if stop.exception() is not None:  # keep shutting down
                on_error(f"an actor did not stop cleanly: {cause(stop.exception())}")
        if self._learner is not None:
            try:
                checkpoint = self._learner.stop_and_save()
            except Exception as error:  # noqa: BLE001 - report, keep shutting down
                on_error(f"final checkpoint failed: {cause(error)}")
        if self._replay is not None:
            self._replay.stop(final_checkpoint=True)  # a no-op without a checkpoint directory
        return checkpoint

"""The role workers: the learner and an actor, wrapping the plain `learner`/`actors` classes.

Both launchers run exactly this code: the Ray launcher (launch_ray.py) wraps each
worker in `ray.remote`, one process per role; the local launcher (launch_local.py)
builds them in the driver's process. Each worker runs its loop in a background
thread and answers small calls (status, parameters, stop) concurrently, so the
driver and the actors never wait behind a learner update. Nothing here imports Ray:
how parameters travel is the launcher's `put_params` and `ParameterSource`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import traceback
from typing import Any, Callable

import numpy as np

from vtrax.deploy.agents import get_agent
from vtrax.deploy.runtime import manifest
from vtrax.deploy.runtime.manifest import LearnerResume
from vtrax.deploy.runtime.names import TABLE

log = logging.getLogger(__name__)

EVALUATOR_SEED_OFFSET = 999_983  # keeps the evaluator's envs apart from every actor's
ACTOR_STOP_GRACE_S = 1.0
"""Seconds a stopping actor may take to finish its unroll before its adder is closed under it."""


class LearnerWorker:
    """Pulls batches from replay, updates, and keeps the newest parameters for actors to fetch.

    `put_params(params)` turns published params into what `latest_params` hands out:
    `ray.put` (an object-store reference) under Ray, the identity in one process.

    A learner built where checkpoints already exist (`--resume`, or Ray restarting
    this worker after its process died) restores the newest one by itself, so a
    crash costs at most one checkpoint period of updates. `named` (from RUN_DIR/manifest.json)
    is restored instead, unless missing, unreadable, or older than what this session wrote.
    """

    def __init__(self, config, spec, replay_address: str, run_dir: str, resume: bool,
                 put_params: Callable[[Any], Any] = lambda params: params, *,
                 named: LearnerResume | None = None):
        self._config, self._spec, self._replay_address = config, spec, replay_address
        self._report: dict[str, Any] = {}
        self._put_params = put_params
        self._latest: tuple[int, list[Any]] | None = None
        self._stop = threading.Event()
        self._error: str | None = None
        self._metrics: list[dict[str, float]] = []
        self._metrics_lock = threading.Lock()
        self._learner_checkpoints = os.path.join(run_dir, "checkpoints")
        self._thread = threading.Thread(target=self._run, name="learner-loop", daemon=True)
        self._learner = self._dataset = self.restored_from = self._priority_writer = None
        self._named, self._skipped = named, ()
        # NOTE: a build error is kept and raised by `start()`: raised here it would kill the
        # process (under Ray, with a SIGABRT dump) instead of reaching the driver as one sentence.
        self._build_error: Exception | None = None
        try:
            self._build(run_dir, resume)
        except Exception as error:  # noqa: BLE001 - raised again by start()
            self._build_error = error

    def _build(self, run_dir: str, resume: bool) -> None:
        import jax

        from vtrax import replay
        from vtrax.learner import Learner

        config, spec = self._config, self._spec
        num_devices = jax.local_device_count()
        if config.learner.batch_size % num_devices:
            raise ValueError(f"batch_size {config.learner.batch_size} is not divisible by the learner's "
                             f"{num_devices} devices; choose a batch_size that is a multiple of {num_devices}")
        self._dataset = replay.ReplayDataset(self._replay_address, TABLE, config.learner.batch_size,
                                             num_devices=num_devices, prefetch=4)
        agent = get_agent(config.agent)
        network = agent.make_network(config, spec)
        example = np.zeros((config.unroll_length + 1, 1, *spec.observation_shape), spec.observation_dtype)
        # NOTE: priorities travel on the writer's thread, in order; stop_and_save flushes them.
        self._priority_writer = (replay.PriorityWriter(self._dataset.update_priorities)
                                 if agent.writes_priorities(config) else None)
        # The Learner publishes version 0 on construction, so actors can act at once.
        self._learner = Learner(config.learner, network, self._dataset, self._publish,
                                logdir=run_dir, stop_event=self._stop, num_devices=num_devices,
                                metrics_callback=self._on_metrics, observation_example=example,
                                core=agent.make_learner_core(config, network, num_devices),
                                priorities_callback=self._priority_writer and self._priority_writer.submit)
        if resume or _has_checkpoint(self._learner_checkpoints):
            self.restored_from = self._restore()

    def _restore(self) -> str:
        """The manifest's checkpoint if it reads, else the newest readable one (the skipped one is reported)."""
        from vtrax.learner import CheckpointMismatchError

        named = manifest.learner_restore_target(self._named, self._learner_checkpoints)
        if named is not None:
            try:
                return self._learner.restore(named)
            except CheckpointMismatchError:
                raise
            except Exception as error:  # noqa: BLE001 - missing, truncated, corrupt: the newest readable one then
                first_line = (str(error).strip().splitlines() or [""])[0][:160]
                self._skipped = (f"{os.path.basename(named)}, named by manifest.json ({type(error).__name__}: "
                                 f"{first_line})",)
        return self._learner.restore()

    def start(self) -> None:
        """Start the update loop; a no-op once started (the driver calls it again after a restart).

        Raises:
          Exception: what building the learner raised (bad config, unreadable checkpoint).
        """
        self.check_built()
        if not self._thread.ident:
            self._thread.start()

    def check_built(self) -> None:
        """Raise what building the learner raised, if anything."""
        if self._build_error is not None:
            raise self._build_error

    def _run(self) -> None:
        try:
            self._learner.run()  # saves a checkpoint on the way out, whatever stopped it
        except Exception:  # noqa: BLE001 - reported to the driver, which stops the run
            self._error = traceback.format_exc()
            log.error("learner stopped: %s", self._error)

    def _publish(self, version: int, params: Any) -> None:
        # NOTE: the ref is wrapped in a list so Ray passes the reference itself to
        # callers instead of resolving it; actors fetch params only when newer.
        self._latest = (version, [self._put_params(params)])

    def _on_metrics(self, metrics: dict[str, float]) -> None:
        with self._metrics_lock:
            self._metrics.append(metrics)

    def latest_params(self, known_version: int):
        """(version, [put_params(params)]) if newer than `known_version`, else None."""
        latest = self._latest
        if latest is None or latest[0] <= known_version:
            return None
        return latest

    def status(self) -> dict[str, Any]:
        """Counters plus the mean of each metric since the last call.

        A learner that could not be built (a restart that cannot restore, say) answers only
        `error`, `started`, `running` and `pid`: the driver keeps its last counters and stops.
        """
        if self._build_error is not None:
            return {"error": ("the learner could not be built: "
                              f"{type(self._build_error).__name__}: {self._build_error}"), "started": True,
                    "running": False, "pid": os.getpid()}
        with self._metrics_lock:
            metrics, self._metrics = self._metrics, []
        means = {key: float(np.mean([m[key] for m in metrics if key in m])) for key in (metrics[0] if metrics else {})}
        writer = self._priority_writer
        if writer is not None:
            means.update(priority_updates_written=float(writer.written), priority_updates_failed=float(writer.failed),
                         priority_updates_pending=float(writer.pending))
        return {"updates": self._learner.num_updates, "frames": self._learner.num_frames,
                "version": self._learner.version, "metrics": means, "num_metric_updates": len(metrics),
                "error": self._error, "running": self._thread.is_alive(), "started": bool(self._thread.ident),
                "pid": os.getpid(), "restored_from": self.restored_from,
                "unreadable_checkpoints": [*self._skipped, *self._learner.unreadable_checkpoints],
                "replay": self._replay_info()}

    def _replay_info(self) -> dict[str, Any]:
        """The replay table's counters, asked from here so the driver never loads Reverb/TensorFlow."""
        from vtrax import replay

        try:
            return replay.info(self._replay_address).get(TABLE, {})
        except Exception:  # noqa: BLE001 - a missed info poll is not worth stopping for
            return {}

    def publish_report(self, report: dict[str, Any]) -> None:
        """The driver's newest report, kept for `vtrax status`."""
        self._report = {**report, "reported_at": time.time()}

    def report(self) -> dict[str, Any]:
        return self._report

    def stop_and_save(self, timeout_s: float = 60.0) -> str | None:
        """Stop the loop (which writes the final checkpoint as it exits) and close the dataset."""
        from vtrax.learner import latest_checkpoint

        if self._learner is None:  # never built: nothing to save
            return None
        self._stop.set()
        self._dataset.close(timeout_s=5.0)  # a loaded machine may need more than the default second
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        if self._priority_writer is not None:
            self._priority_writer.close()
        if not self._thread.ident:  # never started: save the (initial or restored) state
            return str(self._learner.save())
        return latest_checkpoint(str(self._learner_checkpoints))


def _has_checkpoint(directory: str) -> bool:
    from vtrax.learner import latest_checkpoint

    return latest_checkpoint(directory) is not None


class ActorWorker:
    """One actor: a VectorEnv, the agent's jitted policy and adder, a parameter source.

    `num_actors` acting actors share the agent's exploration (e.g. Ape-X's epsilon
    ladder); `evaluator=True` makes this the agent's evaluator instead: its own
    policy (greedy) and envs, writing nothing to replay.

    `exit_on_error`: a dying loop ends the process (Ray then restarts the actor); in
    one process it only records the error, which `stats()` reports to the driver.
    """

    def __init__(self, index: int, config, spec, replay_address: str, param_source, *, exit_on_error: bool = True,
                 num_actors: int = 1, evaluator: bool = False):
        from vtrax import actors

        agent = get_agent(config.agent)
        seed = config.seed * 1000 + 17 * (index + 1) + (EVALUATOR_SEED_OFFSET if evaluator else 0)
        network = agent.make_network(config, spec)
        num_envs = agent.evaluator_num_envs(config) if evaluator else config.num_envs_per_actor
        self._env = actors.VectorEnv(config.env_id, num_envs, seed=seed)
        self._adder = actors.NullAdder() if evaluator else agent.make_adder(config, spec, replay_address)
        actor_config = actors.ActorConfig(unroll_length=config.unroll_length, seed=seed,
                                          param_refresh_period_unrolls=config.param_refresh_period_unrolls)
        make_policy = agent.make_evaluator_policy if evaluator else agent.make_policy
        select_action, initial_core_state = make_policy(config, network, index, num_actors)
        self._role = "evaluator" if evaluator else "actor"
        self._actor = actors.Actor(self._env, select_action, self._adder, param_source,
                                   actor_config, initial_core_state=initial_core_state)
        self._exit_on_error = exit_on_error
        self._stop = threading.Event()
        self._error: str | None = None
        self._thread = threading.Thread(target=self._run, name=f"actor-{index}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._actor.run(self._stop)
        except Exception:  # noqa: BLE001
            if not self._stop.is_set():
                self._error = traceback.format_exc()
                log.error("actor loop died: %s", self._error)
                if self._exit_on_error:
                    os._exit(1)  # NOTE: Ray restarts the actor process

    def stats(self) -> dict[str, Any]:
        stats = self._actor.stats()
        stats["pid"] = os.getpid()
        stats["error"] = self._error
        stats["role"] = self._role
        return stats

    def pid(self) -> int:
        return os.getpid()

    def stop(self, timeout_s: float = 10.0) -> dict[str, Any]:
        """Stop the loop (it checks between unrolls), close the adder and the envs; returns the final stats."""
        self._stop.set()
        self._thread.join(min(timeout_s, ACTOR_STOP_GRACE_S))
        # NOTE: an actor that the replay rate limiter holds (the learner lags) waits inside `adder.append` and
        # never reaches its stop check; closing the adder ends that wait (AdderClosedError, ignored once stopping)
        # instead of sitting out the whole join timeout, once per blocked actor.
        self._adder.close()
        self._thread.join(timeout_s)
        self._env.close()
        return self.stats()

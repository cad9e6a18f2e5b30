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

from vtrax.deploy.config import core_state_shapes, network_options
from vtrax.deploy.runtime.names import TABLE

log = logging.getLogger(__name__)



def _network(config, spec):
    from vtrax.learner import make_network

    return make_network(config.network, spec.num_actions, **network_options(config, spec))


def step_spec(spec, config):
    """The replay fields one actor step writes, from the environment's spec and the agent's core state."""
    from vtrax import replay
    from vtrax.learner.action_distribution import action_distribution

    distribution = action_distribution(_network(config, spec).description)
    return replay.impala_step_spec(spec.observation_shape, spec.observation_dtype, spec.num_actions,
                                   core_state_shapes=core_state_shapes(config), action_shape=distribution.action_shape,
                                   action_dtype=distribution.action_dtype, num_policy_params=distribution.num_params)


class LearnerWorker:
    """Pulls batches from replay, updates, and keeps the newest parameters for actors to fetch.

    `put_params(params)` turns published params into what `latest_params` hands out:
    `ray.put` (an object-store reference) under Ray, the identity in one process.

    A learner built where checkpoints already exist (`--resume`, or Ray restarting
    this worker after its process died) restores the newest one by itself, so a
    crash costs at most one checkpoint period of updates.
    """

    def __init__(self, config, spec, replay_address: str, run_dir: str, resume: bool,
                 put_params: Callable[[Any], Any] = lambda params: params):
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
        self._learner = self._dataset = self.restored_from = None
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
        network = _network(config, spec)
        example = np.zeros((config.unroll_length + 1, 1, *spec.observation_shape), spec.observation_dtype)
        # The Learner publishes version 0 on construction, so actors can act at once.
        self._learner = Learner(config.learner, network, self._dataset, self._publish,
                                logdir=run_dir, stop_event=self._stop, num_devices=num_devices,
                                metrics_callback=self._on_metrics, observation_example=example)
        self.restored_from = self._learner.restore() if resume or _has_checkpoint(self._learner_checkpoints) else None

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
        return {"updates": self._learner.num_updates, "frames": self._learner.num_frames,
                "version": self._learner.version, "metrics": means, "num_metric_updates": len(metrics),
                "error": self._error, "running": self._thread.is_alive(), "started": bool(self._thread.ident),
                "pid": os.getpid(), "restored_from": self.restored_from,
                "unreadable_checkpoints": list(self._learner.unreadable_checkpoints),
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
        if not self._thread.ident:  # never started: save the (initial or restored) state
            return str(self._learner.save())
        return latest_checkpoint(str(self._learner_checkpoints))


def _has_checkpoint(directory: str) -> bool:
    from vtrax.learner import latest_checkpoint

    return latest_checkpoint(directory) is not None


class ActorWorker:
    """One actor: a VectorEnv, the jitted policy, a replay adder, a parameter source.

    `exit_on_error`: a dying loop ends the process (Ray then restarts the actor); in
    one process it only records the error, which `stats()` reports to the driver.
    """

    def __init__(self, index: int, config, spec, replay_address: str, param_source, *, exit_on_error: bool = True):
        from vtrax import actors, replay
        from vtrax.learner.action_distribution import action_distribution

        seed = config.seed * 1000 + 17 * (index + 1)
        network = _network(config, spec)
        self._env = actors.VectorEnv(config.env_id, config.num_envs_per_actor, seed=seed)
        self._adder = replay.SequenceAdder(replay_address, TABLE, step_spec(spec, config),
                                           config.num_envs_per_actor, config.unroll_length)
        actor_config = actors.ActorConfig(unroll_length=config.unroll_length, seed=seed,
                                          param_refresh_period_unrolls=config.param_refresh_period_unrolls)
        if network.is_recurrent:
            select_action = actors.make_recurrent_select_action(network.unroll, network.initial_state)
            initial_core_state = network.initial_state(config.num_envs_per_actor)
        else:
            distribution = action_distribution(network.description)
            select_action, initial_core_state = actors.make_select_action(network.apply, distribution=distribution), None
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
        return stats

    def pid(self) -> int:
        return os.getpid()

    def stop(self, timeout_s: float = 10.0) -> dict[str, Any]:
        self._stop.set()
        self._thread.join(timeout_s)
        self._adder.close()
        self._env.close()
        return self.stats()

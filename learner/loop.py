"""`Learner`: pulls batches, runs the pmapped update, publishes params, saves checkpoints.

It knows nothing about Ray or Reverb: the launcher hands it an iterator of
batches (see `learner.batch` for the format) and a `publish(version, params)`
callback, and wraps the object in a Ray actor if it wants one.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable, Iterable, Mapping

import jax
import numpy as np

from vtrax.learner.checkpoint import CheckpointWriter, restore_checkpoint
from vtrax.learner.config import LearnerConfig
from vtrax.learner.core import LearnerCore, impala_core
from vtrax.learner.network import AgentNetwork
from vtrax.learner.state import TrainingState, host_copy, replicate

Publish = Callable[[int, Any], None]
MetricsCallback = Callable[[dict[str, float]], None]
PrioritiesCallback = Callable[[np.ndarray, Any], None]

CHECKPOINT_SUBDIR = "checkpoints"


class NonFiniteUpdatesError(RuntimeError):
    """Too many updates in a row had a non-finite loss or gradient; training stopped."""


class Learner:
    """The learner loop around `make_update` (see module docstring).

    Args:
      config: learner hyperparameters.
      network: the agent network (`make_network`).
      batch_iterator: yields batches `[num_devices, batch_size // num_devices, T + 1, ...]`.
      publish: called as `publish(version, params)` with host numpy params, at
        construction (version 0) and every `publish_period_updates` updates.
      logdir: run directory; checkpoints go to `<logdir>/checkpoints`. None
        disables checkpoints.
      stop_event: `run` returns once it is set (checked between updates).
      num_devices: local devices to pmap over (default: all local devices).
      metrics_callback: called once per update with host floats.
      observation_example: `[T, B, *obs_shape]` array fixing the input shape;
        if None, the first batch is read from `batch_iterator` for it.
      core: the agent's learner numerics (default: IMPALA's, `impala_core`).
      priorities_callback: called as `callback(keys [D * B/D] uint64, priorities)`
        after each update whose core returns priorities; `priorities` is still
        a device array, so converting it (and writing it) is the callback's
        business, off this loop's critical path.
    """

    def __init__(self, config: LearnerConfig, network: AgentNetwork, batch_iterator: Iterable[Mapping[str, Any]],
                 publish: Publish, *, logdir: str | None = None, stop_event: threading.Event | None = None,
                 num_devices: int | None = None, metrics_callback: MetricsCallback | None = None,
                 observation_example: Any = None, core: LearnerCore | None = None,
                 priorities_callback: PrioritiesCallback | None = None):
        self._config = config
        self._network = network
        self._iterator = iter(batch_iterator)
        self._publish = publish
        self._logdir = logdir
        self._stop_event = stop_event or threading.Event()
        self._num_devices = num_devices or jax.local_device_count()
        self._metrics_callback = metrics_callback
        self._priorities_callback = priorities_callback
        self._pending: Mapping[str, Any] | None = None
        if observation_example is None:
            self._pending = next(self._iterator)
            # [D, B/D, T+1, ...] -> one time step of device 0, time-major: [1, B/D, ...].
            observation_example = np.swapaxes(np.asarray(self._pending["observation"])[0, :, :1], 0, 1)
        self._observation_example = observation_example
        init_rng, self._rng = jax.random.split(jax.random.PRNGKey(config.seed))
        self._core = core or impala_core(config, network, num_devices=self._num_devices)
        self._state = replicate(self._core.init(init_rng, observation_example), self._num_devices)
        self._num_frames = 0
        self._num_skipped = 0
        self.unreadable_checkpoints: tuple[str, ...] = ()  # newer checkpoints `restore` had to skip
        self._consecutive_nonfinite = 0
        self._version = 0
        self._last_published = -1
        self._checked_batch = False
        self._last_checkpoint_time = time.monotonic()
        self._writer: CheckpointWriter | None = None
        self._saved: tuple[int, dict[str, int], str] | None = None  # (version, counters, path) of the last save
        self.publish_params()

    # -- counters ---------------------------------------------------------------------------------------------
    @property
    def version(self) -> int:
        """Parameter version: the number of applied updates (skipped ones do not count)."""
        return self._version

    @property
    def num_updates(self) -> int:
        """Applied updates so far (equal to `version`)."""
        return self._version

    @property
    def num_frames(self) -> int:
        """Agent steps consumed (IMPALA: batch_size * unroll_length per update step), skipped ones included."""
        return self._num_frames

    @property
    def num_skipped_updates(self) -> int:
        """Update steps skipped because the loss or gradient was not finite."""
        return self._num_skipped

    @property
    def state(self) -> TrainingState:
        """The replicated training state (leading device axis on every leaf)."""
        return self._state

    def params(self) -> Any:
        """Host numpy copy of the current params (one device's copy)."""
        return host_copy(self._state.params)

    # -- loop -------------------------------------------------------------------------------------------------
    def step(self) -> dict[str, float]:
        """Run one update on the next batch; return its metrics as host floats.

        Raises:
          StopIteration: the batch iterator is exhausted.
          NonFiniteUpdatesError: `max_consecutive_nonfinite` skipped updates in
            a row (the last good state is checkpointed first when there is a logdir).
        """
        start = time.perf_counter()
        batch = self._next_batch()
        fetched = time.perf_counter()
        # metrics: [D, len(metric_names)]; priorities: [D, B/D] or None
        self._state, device_metrics, priorities = self._core.update(self._state,
                                                                    self._core.select_batch_keys(batch))
        if priorities is not None and self._priorities_callback is not None:
            # NOTE: no transfer here: the callback gets the device array and fetches it on its own thread.
            self._priorities_callback(np.asarray(batch["info/key"]).reshape(-1), priorities)
        # NOTE: synchronisation point: the metrics come back as one small array, one transfer.
        metrics = dict(zip(self._core.metric_names, np.asarray(device_metrics)[0].tolist()))
        done = time.perf_counter()
        self._num_frames += self._core.frames_per_update
        if metrics["skipped"]:
            self._on_skipped(metrics)
        else:
            self._consecutive_nonfinite = 0
            self._version += 1
            if self._version % self._config.publish_period_updates == 0:
                self.publish_params()
        if self._logdir and time.monotonic() - self._last_checkpoint_time >= self._config.checkpoint_period_s:
            self.save()
        metrics.update(learner_wait_s=fetched - start, learner_step_s=done - fetched, version=float(self._version),
                       num_frames=float(self._num_frames), skipped_updates=float(self._num_skipped))
        if self._metrics_callback is not None:
            self._metrics_callback(metrics)
        return metrics

    def run(self, max_updates: int | None = None) -> int:
        """Step until `max_updates` steps, the stop event, or the end of the batches; return steps run.

        NOTE: the stop event is checked between updates; a batch iterator that
        blocks waiting for data must be closed by whoever sets the event.
        On exit the current params are published and (with a logdir) saved, and
        the save is final on disk when `run` returns.
        """
        steps = 0
        try:
            while not self._stop_event.is_set() and (max_updates is None or steps < max_updates):
                try:
                    self.step()
                except StopIteration:
                    break
                steps += 1
        finally:
            if self._last_published != self._version:
                self.publish_params()
            if self._logdir:
                self.save()
                self.wait_until_saved(close=True)
        return steps

    def stop(self) -> None:
        """Ask `run` to return after the current update."""
        self._stop_event.set()

    def publish_params(self) -> None:
        """Publish the current params with the current version (e.g. the initial ones)."""
        self._publish(self._version, self.params())
        self._last_published = self._version

    # -- checkpoints ------------------------------------------------------------------------------------------
    def save(self) -> str:
        """Start checkpointing the current state and counters under `<logdir>/checkpoints`; return its path.

        The arrays are copied before it returns; orbax commits them in a
        background thread (`wait_until_saved` blocks until final). A save with
        nothing new since the last one writes nothing.
        """
        if not self._logdir:
            raise ValueError("this Learner has no logdir; pass logdir=... to save checkpoints")
        self._last_checkpoint_time = time.monotonic()
        counters = self._counters()
        if self._saved is not None and self._saved[:2] == (self._version, counters):
            return self._saved[2]
        if self._writer is None:
            self._writer = CheckpointWriter(os.path.join(self._logdir, CHECKPOINT_SUBDIR),
                                            self._config.keep_checkpoints)
        single = TrainingState(*host_copy(tuple(self._state)))
        path = self._writer.save(single, counters, self._config, self._network.description, rng=self._rng)
        self._saved = (self._version, counters, path)
        return path

    def wait_until_saved(self, *, close: bool = False) -> None:
        """Block until the checkpoint `save` started is final on disk; `close=True` also releases orbax's threads."""
        if self._writer is None:
            return
        if close:
            self._writer, writer = None, self._writer
            writer.close()
        else:
            self._writer.wait()

    def restore(self, logdir: str | None = None) -> str:
        """Load the newest checkpoint of `logdir` (default: this learner's) and publish its params.

        Newer checkpoints that cannot be read (partial, corrupt) are skipped and named in
        `unreadable_checkpoints`.

        Raises:
          FileNotFoundError: no checkpoint there.
          learner.CheckpointMismatchError: it was written for another network or config.
          learner.CheckpointUnreadableError: none of them can be read.
        """
        logdir = logdir or self._logdir
        if not logdir:
            raise ValueError("restore needs a logdir (none was given to the Learner or to restore)")
        directory = os.path.join(logdir, CHECKPOINT_SUBDIR)
        template = TrainingState(*host_copy(tuple(self._state)))
        checkpoint = restore_checkpoint(directory if os.path.isdir(directory) else logdir, self._config,
                                        self._network.description, template=template)
        self._state = replicate(checkpoint.state, self._num_devices)
        self.unreadable_checkpoints = checkpoint.unreadable
        self._version = int(checkpoint.state.step)
        self._num_frames = int(checkpoint.counters.get("num_frames", 0))
        self._num_skipped = int(checkpoint.counters.get("num_skipped_updates", 0))
        if checkpoint.rng is not None:
            self._rng = jax.numpy.asarray(checkpoint.rng)
        self.publish_params()
        return checkpoint.path

    # -- internals --------------------------------------------------------------------------------------------
    def _counters(self) -> dict[str, int]:
        return {"num_updates": self._version, "num_frames": self._num_frames,
                "num_skipped_updates": self._num_skipped}

    def _next_batch(self) -> dict[str, Any]:
        batch, self._pending = (self._pending, None) if self._pending is not None else (next(self._iterator), None)
        if not self._checked_batch:
            self._core.check_batch(batch, self._num_devices)
            self._checked_batch = True
        return batch

    def _on_skipped(self, metrics: dict[str, float]) -> None:
        self._num_skipped += 1
        self._consecutive_nonfinite += 1
        if self._consecutive_nonfinite < self._config.max_consecutive_nonfinite:
            return
        where = "no logdir was given, so nothing was saved"
        if self._logdir:
            where = f"the last good state (version {self._version}) was saved to {self.save()}"
            self.wait_until_saved(close=True)
        raise NonFiniteUpdatesError(
            f"{self._consecutive_nonfinite} updates in a row had a non-finite loss or gradient (last total_loss="
            f"{metrics['total_loss']}, grad_norm={metrics['grad_norm']}); training stopped and {where}. Likely "
            f"causes: NaN/inf in the batch (rewards, observations, behaviour logits) or a learning rate too high "
            f"(learning_rate={self._config.learning_rate}); check the data, lower learning_rate or clip rewards.")

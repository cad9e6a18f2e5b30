"""The served policy: a checkpoint's network, jitted per padded batch size, and a checkpoint follower.

Batches are padded with zero observations up to the next power of two (capped at
`max_batch_size`), so a server sees at most log2(max_batch_size) + 1 compilations
whatever batch sizes its clients send; the padded rows are dropped before replying.

The follower polls the run's checkpoint folder and swaps in newer parameters with
one reference assignment: a request in flight finishes with the parameters it
started with, the next one uses the new ones.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any, NamedTuple

import numpy as np

from vtrax.deploy.serve.source import PolicySource, ServeSetupError, checkpoint_meta

log = logging.getLogger(__name__)

_NETWORK_OPTIONS = ("hidden_sizes", "use_lstm", "lstm_size", "shared_torso", "policy", "state_dependent_std",
                    "action_low", "action_high", "normalize_observations", "action_nvec")


class LoadedParams(NamedTuple):
    """Parameters on the device plus where they came from."""

    params: Any
    step: int
    path: str
    written_unix_s: float


class ActOutput(NamedTuple):
    """One `Act` answer: actions [B] int32 (Discrete) or [B, D] float32 (Box, within the bounds),
    logits [B, P] float32 (the policy output: logits or concat(mean, log_std)), value [B] float32."""

    actions: np.ndarray
    logits: np.ndarray
    value: np.ndarray


def network_from_description(description: dict[str, Any]):
    """Rebuild the `learner.AgentNetwork` a checkpoint's metadata describes.

    Raises:
      ServeSetupError: the description is incomplete, or names a recurrent network
        (its core state would have to travel with every request, which this API
        does not carry).
    """
    from vtrax.learner import make_network

    if "kind" not in description or "num_actions" not in description:
        raise ServeSetupError(f"the checkpoint's network description {description!r} lacks 'kind' or "
                              "'num_actions'; serve a checkpoint written by `vtrax train`")
    options = {key: description[key] for key in _NETWORK_OPTIONS if key in description}
    if "hidden_sizes" in options:
        options["hidden_sizes"] = tuple(options["hidden_sizes"])
    network = make_network(description["kind"], int(description["num_actions"]), **options)
    if network.is_recurrent:
        raise ServeSetupError("this checkpoint's network is recurrent (use_lstm); `vtrax serve` answers "
                              "stateless Act calls and serves feed-forward networks only; serve a run trained "
                              "without --use-lstm, or play this one with `vtrax eval RUN_DIR`")
    if json.loads(json.dumps(network.description)) != description:
        raise ServeSetupError(f"the checkpoint's network {description!r} cannot be rebuilt by this vtrax "
                              f"(got {network.description!r}); serve it with the vtrax version that wrote it")
    return network


def padded_batch_size(batch_size: int, max_batch_size: int) -> int:
    """The next power of two >= `batch_size`, capped at `max_batch_size`."""
    return min(1 << max(batch_size - 1, 0).bit_length(), max_batch_size)


class PolicyModel:
    """A checkpoint's network for one environment: load parameters, act on batches.

    Args:
      description: the network description stored in the checkpoint's metadata.
      env_spec: `actors.EnvSpec` of the environment (shape, dtype, actions).
      max_batch_size: the largest batch `act` accepts.
    """

    def __init__(self, description: dict[str, Any], env_spec, max_batch_size: int):
        import jax
        import jax.numpy as jnp

        from vtrax.learner.action_distribution import action_distribution

        if max_batch_size < 1:
            raise ServeSetupError(f"--max-batch-size must be >= 1, got {max_batch_size}")
        self.network = network_from_description(description)
        self.description = description
        self.spec = env_spec
        self.max_batch_size = max_batch_size
        if self.network.num_actions != env_spec.num_actions:
            raise ServeSetupError(f"the checkpoint's network has {self.network.num_actions} actions but "
                                  f"{env_spec.env_id} has {env_spec.num_actions}; pass the --env it was trained on")
        apply = self.network.apply
        distribution = action_distribution(description)
        bounds = (env_spec.action_low, env_spec.action_high) if env_spec.is_continuous else None

        def to_env(actions):  # Gaussian samples are clipped to the Box, as the actors do for their envs
            if bounds is None:
                return actions
            low, high = (jnp.broadcast_to(jnp.asarray(bound, jnp.float32), actions.shape) for bound in bounds)
            return jnp.clip(actions, low, high)

        @jax.jit
        def forward(params, observations, seed):
            logits, value = apply(params, observations[None])  # [1, B, P], [1, B]
            logits, value = logits[0].astype(jnp.float32), value[0].astype(jnp.float32)  # [B, P], [B]
            sampled = distribution.sample(jax.random.PRNGKey(seed), logits)  # [B] or [B, D]
            mode = distribution.mode(logits)  # [B] or [B, D]
            return (to_env(mode).astype(distribution.action_dtype), to_env(sampled).astype(distribution.action_dtype),
                    logits, value)

        self._forward = forward

    def load(self, checkpoint: str) -> LoadedParams:
        """Parameters of one checkpoint folder, on the device, checked by one forward pass.

        Raises:
          ServeSetupError: its network differs from this model's, or its
            parameters do not fit the network.
        """
        import jax

        from vtrax.learner import load_params

        meta = checkpoint_meta(checkpoint)
        if meta.get("network") != self.description:
            raise ServeSetupError(f"checkpoint {checkpoint} is for network {meta.get('network')!r}, not the "
                                  f"served {self.description!r}; restart `vtrax serve` to serve it")
        params = jax.device_put(load_params(checkpoint))
        loaded = LoadedParams(params, int(meta["step"]), str(checkpoint), float(meta.get("written_unix_s", 0.0)))
        try:
            self.act(loaded, np.zeros((1, *self.spec.observation_shape), self.spec.observation_dtype))
        except (TypeError, ValueError, KeyError) as error:
            raise ServeSetupError(f"checkpoint {checkpoint}'s parameters do not fit its network ({error}); "
                                  "serve a checkpoint written by `vtrax train`") from None
        return loaded

    def act(self, loaded: LoadedParams, observations: np.ndarray, *, sample: bool = False,
            seed: int = 0) -> ActOutput:
        """Actions, logits and values for `observations` [B, *obs_shape] (already validated).

        Args:
          loaded: the parameters to use.
          observations: [B, *observation_shape], 1 <= B <= max_batch_size.
          sample: sample actions from the policy instead of taking its mode (argmax, or the Gaussian's mean).
          seed: the sampling seed (any uint64; folded to 32 bits).
        """
        import jax

        batch_size = observations.shape[0]
        padded = padded_batch_size(batch_size, self.max_batch_size)
        if padded > batch_size:
            padding = np.zeros((padded - batch_size, *observations.shape[1:]), observations.dtype)
            observations = np.concatenate([observations, padding])
        seed32 = np.uint32((seed ^ (seed >> 32)) & 0xFFFFFFFF)
        greedy, sampled, logits, value = jax.device_get(self._forward(loaded.params, observations, seed32))
        actions = sampled if sample else greedy
        return ActOutput(actions[:batch_size], logits[:batch_size], value[:batch_size])


def load_newest(model: PolicyModel, source: PolicySource) -> LoadedParams:
    """The pinned checkpoint, or the newest complete one of the run.

    Raises:
      ServeSetupError: there is no checkpoint yet.
    """
    from vtrax.learner import latest_checkpoint

    checkpoint = source.pinned_checkpoint or latest_checkpoint(str(source.checkpoints_dir))
    if checkpoint is None:
        raise no_checkpoint_error(source)
    return model.load(str(checkpoint))


def no_checkpoint_error(source: PolicySource) -> ServeSetupError:
    return ServeSetupError(f"no checkpoint under {source.checkpoints_dir} yet; the learner writes its first after "
                           "--checkpoint-period-s (and at the end of the run): retry then, or pass "
                           "--wait-for-checkpoint-s")


class CheckpointFollower:
    """Holds the served parameters; `start()` polls for newer checkpoints of a live run.

    Args:
      model: the model that loads checkpoints.
      source: where to look.
      initial: the parameters served until a newer checkpoint appears.
      poll_interval_s: seconds between looks at the checkpoint folder.
    """

    def __init__(self, model: PolicyModel, source: PolicySource, initial: LoadedParams, poll_interval_s: float):
        self._model, self._source = model, source
        self._current = initial
        self._poll_interval_s = poll_interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def current(self) -> LoadedParams:
        return self._current

    @property
    def following(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def poll(self) -> bool:
        """Load the run's newest checkpoint if it is newer than the served one; True if it was swapped in.

        Always False for a pinned checkpoint.
        """
        from vtrax.learner import latest_checkpoint

        if not self._source.can_follow:
            return False
        newest = latest_checkpoint(str(self._source.checkpoints_dir))
        if newest is None or newest == self._current.path:
            return False
        try:
            loaded = self._model.load(newest)
        except (OSError, ValueError, KeyError, ServeSetupError) as error:
            # NOTE: the learner deletes old checkpoints while we may be reading one; the next poll retries.
            log.warning("could not load checkpoint %s (%s); still serving step %d", newest, error,
                        self._current.step)
            return False
        if loaded.step < self._current.step:
            return False
        self._current = loaded
        log.info("serving checkpoint step %d (%s)", loaded.step, newest)
        return True

    def start(self) -> None:
        """Follow the run in a background thread (no-op for a pinned checkpoint)."""
        if not self._source.can_follow or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="checkpoint-follower", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._poll_interval_s):
            self.poll()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

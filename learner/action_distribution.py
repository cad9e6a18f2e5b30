"""The policy's action distribution, shared by actors, learner, eval and serve.

The network's policy output `[..., P]` (called "logits" along the data path, and
stored per step as `behaviour_logits`) parameterises one of:

    kind                P      action            from rl_ops
    categorical         A      int32 []          softmax()
    multi_categorical   sum(n) int32 [D]         softmax() per dimension d over its n_d logits
    gaussian            2D     float32 [D]       gaussian_diagonal(): concat(mean, log_std)
    squashed_gaussian   2D     float32 [D]       squashed_gaussian(): concat(mu, sigma) pre-activation

A Gaussian's action is stored raw (unclipped): the environment side clips it to
the Box bounds, and V-trace's ratio pi(a)/mu(a) is taken at the stored action,
where both densities are positive. A squashed Gaussian's actions already lie in
[low, high] (tanh, then an affine map); its log-probability includes the
change-of-variables term, its entropy is the pre-squash Gaussian's (as RLax).

The kind and its sizes live in the network description (`policy`, `num_actions`,
`action_low`, `action_high`), so checkpoints rebuild the same distribution.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from vtrax import rl_ops

POLICIES = ("categorical", "multi_categorical", "gaussian", "squashed_gaussian")


class ActionDistribution(NamedTuple):
    """Pure functions of the policy output `params` [..., P].

    Attributes:
      kind: one of `POLICIES`.
      num_params: P, the policy output's (and `behaviour_logits`') last dimension.
      action_shape: one action's shape: () for categorical, (D,) for multi_categorical and Gaussians.
      action_dtype: int32 or float32.
      sample: `sample(key, params [..., P]) -> actions [..., *action_shape]`.
      mode: `mode(params) -> actions`: argmax, or the (squashed) mean.
      logprob: `logprob(actions, params) -> [...]`.
      entropy: `entropy(params) -> [...]`.
    """

    kind: str
    num_params: int
    action_shape: tuple[int, ...]
    action_dtype: Any
    sample: Callable[..., jax.Array]
    mode: Callable[..., jax.Array]
    logprob: Callable[..., jax.Array]
    entropy: Callable[..., jax.Array]


def categorical(num_actions: int) -> ActionDistribution:
    """Softmax over `num_actions` logits; sampling as `jax.random.categorical`."""
    softmax = rl_ops.softmax()

    def sample(key, logits):
        return jax.random.categorical(key, logits, axis=-1).astype(jnp.int32)

    def mode(logits):
        return jnp.argmax(logits, axis=-1).astype(jnp.int32)

    return ActionDistribution("categorical", num_actions, (), np.dtype(np.int32), sample, mode,
                              softmax.logprob, softmax.entropy)


def multi_categorical(action_nvec: Sequence[int]) -> ActionDistribution:
    """Independent softmaxes, one per dimension d of a MultiDiscrete action, over its n_d logits.

    The policy output [..., sum(n)] is the dimensions' logits side by side; an action
    is int32 [..., D] (index a_d in [0, n_d) per dimension). Log-probabilities and
    entropies are sums over the dimensions (the dimensions are independent).
    """
    nvec = tuple(int(n) for n in action_nvec)
    if not nvec or min(nvec) < 1:
        raise ValueError(f"a multi_categorical policy needs one action count >= 1 per dimension, got {list(nvec)}")
    softmax = rl_ops.softmax()
    cuts = np.cumsum(nvec)[:-1].tolist()

    def per_dimension(logits):  # [..., sum(n)] -> D arrays [..., n_d]
        return jnp.split(logits, cuts, axis=-1)

    def sample(key, logits):
        keys = jax.random.split(key, len(nvec))
        return jnp.stack([jax.random.categorical(k, part, axis=-1) for k, part in zip(keys, per_dimension(logits))],
                         axis=-1).astype(jnp.int32)

    def mode(logits):
        return jnp.stack([jnp.argmax(part, axis=-1) for part in per_dimension(logits)], axis=-1).astype(jnp.int32)

    def logprob(actions, logits):
        return sum(softmax.logprob(actions[..., d], part) for d, part in enumerate(per_dimension(logits)))

    def entropy(logits):
        return sum(softmax.entropy(part) for part in per_dimension(logits))

    return ActionDistribution("multi_categorical", sum(nvec), (len(nvec),), np.dtype(np.int32), sample, mode,
                              logprob, entropy)


def _split(params: jax.Array) -> tuple[jax.Array, jax.Array]:
    """[..., 2D] -> two [..., D] halves."""
    return jnp.split(params, 2, axis=-1)


def gaussian(action_dim: int) -> ActionDistribution:
    """Diagonal Gaussian with params concat(mean, log_std), each [..., D]."""
    normal = rl_ops.gaussian_diagonal()

    def sample(key, params):
        mean, log_std = _split(params)
        return normal.sample(key, mean, jnp.exp(log_std))

    def mode(params):
        return _split(params)[0]

    def logprob(actions, params):
        mean, log_std = _split(params)
        return normal.logprob(actions, mean, jnp.exp(log_std))

    def entropy(params):
        mean, log_std = _split(params)
        return normal.entropy(mean, jnp.exp(log_std))

    return ActionDistribution("gaussian", 2 * action_dim, (action_dim,), np.dtype(np.float32), sample, mode,
                              logprob, entropy)


class _Bounds(NamedTuple):
    """An action spec in RLax's sense: `.minimum` and `.maximum`, each [D]."""

    minimum: np.ndarray
    maximum: np.ndarray


# NOTE: keeps arctanh finite when a float32 action rounds onto a bound.
_SQUASH_MARGIN = 1e-6


def squashed_gaussian(action_dim: int, low: Sequence[float], high: Sequence[float]) -> ActionDistribution:
    """tanh-squashed Gaussian mapped onto [low, high] (`rl_ops.squashed_gaussian`, RLax's activations)."""
    low, high = np.asarray(low, np.float32), np.asarray(high, np.float32)
    squashed = rl_ops.squashed_gaussian()

    def bounds_like(mu: jax.Array) -> _Bounds:
        """The bounds broadcast to [..., D] (rank promotion stays explicit)."""
        return _Bounds(jnp.broadcast_to(low, mu.shape), jnp.broadcast_to(high, mu.shape))

    def sample(key, params):
        mu, sigma = _split(params)
        return squashed.sample(key, mu, sigma, bounds_like(mu))

    def mode(params):
        bounds = bounds_like(_split(params)[0])
        half_range = 0.5 * (bounds.maximum - bounds.minimum)
        return bounds.minimum + half_range * (jnp.tanh(jnp.tanh(_split(params)[0])) + 1.0)

    def logprob(actions, params):
        mu, sigma = _split(params)
        bounds = bounds_like(mu)
        margin = _SQUASH_MARGIN * 0.5 * (bounds.maximum - bounds.minimum)
        inner = jnp.clip(actions, bounds.minimum + margin, bounds.maximum - margin)
        return squashed.logprob(inner, mu, sigma, bounds)

    def entropy(params):
        return squashed.entropy(*_split(params))

    return ActionDistribution("squashed_gaussian", 2 * action_dim, (action_dim,), np.dtype(np.float32), sample,
                              mode, logprob, entropy)


def action_distribution(description: dict) -> ActionDistribution:
    """The distribution a network description (`AgentNetwork.description`) names.

    Raises:
      ValueError: an unknown `policy`, or a squashed Gaussian without bounds.
    """
    kind = description.get("policy", "categorical")
    size = int(description["num_actions"])
    if kind == "categorical":
        return categorical(size)
    if kind == "multi_categorical":
        if len(description.get("action_nvec", ())) != size:
            raise ValueError(f"a multi_categorical policy needs action_nvec with num_actions = {size} counts in its "
                             "network description; build it with make_network(..., action_nvec=...)")
        return multi_categorical(description["action_nvec"])
    if kind == "gaussian":
        return gaussian(size)
    if kind == "squashed_gaussian":
        if "action_low" not in description or "action_high" not in description:
            raise ValueError("a squashed_gaussian policy needs action_low and action_high in its network "
                             "description; build it with make_network(..., action_low=..., action_high=...)")
        return squashed_gaussian(size, description["action_low"], description["action_high"])
    raise ValueError(f"policy must be one of {POLICIES}, got {kind!r}")

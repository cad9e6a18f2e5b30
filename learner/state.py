"""`TrainingState` and the helpers that create it and move it across devices."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from vtrax.learner.config import LearnerConfig
from vtrax.learner.network import AgentNetwork
from vtrax.learner.optimizer import make_optimizer


class TrainingState(NamedTuple):
    """Everything the update step advances.

    Attributes:
      params: the network's parameter tree.
      opt_state: the optax optimiser state for `params`.
      step: int32 scalar, number of applied (finite) updates; it is also the
        parameter version that the learner publishes.
    """

    params: Any
    opt_state: Any
    step: jax.Array


def init_state(config: LearnerConfig, network: AgentNetwork, observation_example: Any,
               rng: jax.Array) -> TrainingState:
    """A fresh, single-copy `TrainingState`.

    Args:
      config: the learner config (its optimiser is initialised here).
      network: the agent network.
      observation_example: an observation batch `[T, B, *obs_shape]` (any
        T, B >= 1) fixing the input shape and dtype.
      rng: a JAX PRNG key for parameter initialisation.
    """
    params = network.init(rng, observation_example)
    opt_state = make_optimizer(config).init(params)
    return TrainingState(params=params, opt_state=opt_state, step=jnp.zeros((), jnp.int32))


def replicate(tree: Any, num_devices: int, devices: list | None = None) -> Any:
    """Give every leaf a leading device axis of size `num_devices`.

    With `num_devices > 1` the copies are placed one per device (the layout
    `jax.pmap` expects, so no transfer happens on the first update); with one
    device the leaf is just reshaped to `[1, ...]`.
    """
    if num_devices == 1:
        return jax.tree_util.tree_map(lambda leaf: jnp.asarray(leaf)[None], tree)
    devices = devices or jax.local_devices()[:num_devices]
    if len(devices) != num_devices:
        raise ValueError(f"replicate needs {num_devices} devices but only {len(devices)} are available: "
                         f"{jax.local_devices()}")
    stacked = jax.tree_util.tree_map(lambda leaf: np.stack([np.asarray(leaf)] * num_devices), tree)
    # An identity pmap lays the copies out exactly as pmap outputs are; unlike
    # jax.device_put_replicated (deprecated in newer JAX) it exists in every JAX with pmap.
    return jax.pmap(lambda copy: copy, devices=devices)(stacked)


def unreplicate(tree: Any) -> Any:
    """The copy on the first device of a replicated tree (still a jax.Array)."""
    return jax.tree_util.tree_map(lambda leaf: leaf[0], tree)


def host_copy(tree: Any) -> Any:
    """Host numpy copy of one device's copy of a replicated tree.

    The arrays own their memory, so later (donating) updates cannot change
    what a caller holds.
    """
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    # NOTE: one device_get for all leaves starts every transfer before waiting on any.
    fetched = jax.device_get([_first_copy(leaf) for leaf in leaves])
    return jax.tree_util.tree_unflatten(treedef, [np.array(leaf[0], copy=True) for leaf in fetched])


def _first_copy(leaf: Any) -> Any:
    """A `[1, ...]` slab holding one device's copy (no gather across devices for pmap outputs)."""
    if np.shape(leaf)[0] == 1 or not isinstance(leaf, jax.Array):
        return leaf
    return leaf.addressable_shards[0].data

"""The Q-learning update step (DQN/Ape-X, R2D2): a loss against a periodically copied target network.

Pure JAX and optax (no replay, Ray or TensorFlow), like `learner.update`.
`TrainingState.params` are the online parameters (what actors, eval and serve
load); `opt_state` is a `TargetOptState` holding the optimiser's state and the
target network's parameters, so checkpoints carry both unchanged.

One step: gradient of the agent's importance-weighted loss (learner.dqn_loss
for transitions, learner.r2d2_loss for sequences), averaged over devices with
`lax.pmean`; after the optimiser step the target parameters become the online
ones every `target_update_period_updates` applied updates. It also returns the
loss's new priorities ([B/D] per device), which the learner loop writes back
to replay.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from vtrax.learner.config import LearnerConfig
from vtrax.learner.dqn_config import DQNConfig
from vtrax.learner.dqn_loss import Batch, QLossOutputs
from vtrax.learner.network import AgentNetwork
from vtrax.learner.optimizer import learning_rate_schedule, make_optimizer
from vtrax.learner.state import TrainingState
from vtrax.learner.update import compile_over_devices

DQN_METRIC_NAMES = (
    "total_loss", "td_error_abs_mean", "q_mean", "importance_weight_mean", "grad_norm", "learning_rate",
    "target_age_updates", "priority_max", "skipped",
)


class TargetOptState(NamedTuple):
    """`TrainingState.opt_state` of Q-learning agents: the optimiser's state and the target parameters."""

    optimizer: Any
    target_params: Any


def init_dqn_state(config: LearnerConfig, network: AgentNetwork, observation_example: Any,
                   rng: jax.Array) -> TrainingState:
    """A fresh single-copy state; the target network starts as a copy of the online one."""
    params = network.init(rng, observation_example)
    opt_state = TargetOptState(optimizer=make_optimizer(config).init(params), target_params=params)
    return TrainingState(params=params, opt_state=opt_state, step=jnp.zeros((), jnp.int32))


LossFactory = Callable[[Callable[[jax.Array], jax.Array]], Callable[[Any, Any, Batch], tuple[jax.Array, QLossOutputs]]]
"""`make_loss(reduce_max) -> loss(params, target_params, batch) -> (loss, QLossOutputs)`; `reduce_max`
is the importance weights' normaliser (a max over all devices' batches)."""


def make_q_update_step(config: LearnerConfig, dqn: DQNConfig, make_loss: LossFactory, batch_keys: tuple[str, ...],
                       *, axis_name: str | None = None) -> Callable[[TrainingState, Batch], tuple]:
    """Per-device `step(state, batch) -> (state, metrics [M], priorities [B/D])` reading `batch_keys`.

    Metrics come in `DQN_METRIC_NAMES` order as one float32 array. A non-finite
    loss or gradient skips the update (state unchanged, `skipped` = 1).
    """

    def over_devices(value: Any, reduce: Callable = jax.lax.pmean) -> Any:
        return value if axis_name is None else reduce(value, axis_name)

    loss_fn = make_loss(lambda raw: over_devices(jnp.max(raw), jax.lax.pmax))
    optimizer = make_optimizer(config)
    schedule = learning_rate_schedule(config)
    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
    period = dqn.target_update_period_updates

    def step(state: TrainingState, batch: Batch) -> tuple[TrainingState, jax.Array, jax.Array]:
        batch = {key: batch[key] for key in batch_keys}
        target_params = state.opt_state.target_params
        (loss, outputs), grads = grad_fn(state.params, target_params, batch)
        # NOTE: synchronisation point: one all-reduce of gradients and loss.
        loss, grads = over_devices((loss, grads))
        grad_norm = optax.global_norm(grads)
        finite = jnp.isfinite(loss) & jnp.isfinite(grad_norm)
        updates, optimizer_state = optimizer.update(grads, state.opt_state.optimizer, state.params)
        params = optax.apply_updates(state.params, updates)
        new_step = state.step + 1
        target_params = optax.periodic_update(params, target_params, new_step, period)
        stepped = TrainingState(params, TargetOptState(optimizer_state, target_params), new_step)
        new_state = jax.tree_util.tree_map(lambda new, old: jnp.where(finite, new, old), stepped, state)
        priorities = outputs.priorities  # [B/D]
        metrics = {"total_loss": loss, "td_error_abs_mean": over_devices(outputs.td_error_abs_mean),
                   "q_mean": over_devices(outputs.q_mean),
                   "importance_weight_mean": over_devices(outputs.importance_weight_mean),
                   "grad_norm": grad_norm, "learning_rate": jnp.asarray(schedule(state.step), jnp.float32),
                   "target_age_updates": (new_state.step % period).astype(jnp.float32),
                   "priority_max": over_devices(jnp.max(priorities), jax.lax.pmax),
                   "skipped": 1.0 - finite.astype(jnp.float32)}
        stacked = jnp.stack([jnp.asarray(metrics[name], jnp.float32) for name in DQN_METRIC_NAMES])  # [M]
        return new_state, stacked, priorities

    return step


def make_q_update(config: LearnerConfig, dqn: DQNConfig, make_loss: LossFactory, batch_keys: tuple[str, ...], *,
                  num_devices: int, axis_name: str = "devices") -> Callable:
    """The compiled update: `(state, batch) -> (state, metrics [D, M], priorities [D, B/D])`."""
    if config.batch_size % num_devices:
        raise ValueError(f"batch_size {config.batch_size} does not divide evenly over {num_devices} devices; "
                         f"choose a batch_size that is a multiple of {num_devices}")
    return compile_over_devices(lambda name: make_q_update_step(config, dqn, make_loss, batch_keys, axis_name=name),
                                num_devices=num_devices, axis_name=axis_name)

"""The learner's update step: `update(state, batch) -> (state, metrics)`, pmapped over devices.

Pure JAX and optax; this module imports no replay, Ray or TensorFlow code, so
it runs wherever JAX does (the GPU machines have neither Reverb nor Ray).

Per device the step computes the IMPALA loss and its gradient on its slice of
the batch, then averages gradients, loss and metrics over devices with
`lax.pmean`. Every device therefore sees the same gradient, takes the same
optimiser step, and params stay replicated and identical.

A non-finite loss or gradient norm (checked after the pmean, so all devices
agree) skips the update: the returned state equals the input state and the
`skipped` metric is 1.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax

from vtrax.learner import observation_norm
from vtrax.learner.config import LearnerConfig
from vtrax.learner.loss import VALID_STEP_MEANS, Batch, LossOutputs, make_loss
from vtrax.learner.network import AgentNetwork
from vtrax.learner.optimizer import learning_rate_schedule, make_optimizer
from vtrax.learner.state import TrainingState

Metrics = dict[str, jax.Array]
UpdateFn = Callable[[TrainingState, Batch], tuple[TrainingState, Metrics]]

METRIC_NAMES = (
    "total_loss", "pg_loss", "baseline_loss", "entropy_loss", "entropy", "grad_norm", "learning_rate",
    "rho_mean", "rho_clipped_fraction", "value_mean", "policy_lag_mean", "policy_lag_min",
    "policy_lag_max", "skipped",
)


def make_update_step(config: LearnerConfig, network: AgentNetwork, *,
                     axis_name: str | None = None) -> UpdateFn:
    """The per-device update (un-jitted, un-mapped): state and `[B, T + 1, ...]` batch of one device.

    With `axis_name`, gradients and metrics are averaged across that mapped
    axis (the function must then run under `jax.pmap(..., axis_name=...)`).
    """
    loss_fn = make_loss(config, network)
    optimizer = make_optimizer(config)
    schedule = learning_rate_schedule(config)
    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

    def mean_over_devices(tree: Any) -> Any:
        return tree if axis_name is None else jax.lax.pmean(tree, axis_name)

    def sum_over_devices(tree: Any) -> Any:
        return tree if axis_name is None else jax.lax.psum(tree, axis_name)

    def reduce_over_devices(value: jax.Array, reduce: Callable) -> jax.Array:
        return value if axis_name is None else reduce(value, axis_name)

    def update_step(state: TrainingState, batch: Batch) -> tuple[TrainingState, Metrics]:
        (loss, outputs), grads = grad_fn(state.params, batch)
        valid_steps = jnp.sum(batch["valid"][:, :config.unroll_length].astype(jnp.float32))  # []
        # NOTE: synchronisation point: one all-reduce of gradients, loss and diagnostics.
        loss, outputs, grads, valid_steps = mean_over_devices(
            (loss, _weigh_valid_step_means(outputs, valid_steps), grads, valid_steps))
        outputs = _weigh_valid_step_means(outputs, 1.0 / jnp.maximum(valid_steps, 1.0))
        grad_norm = optax.global_norm(grads)
        finite = jnp.isfinite(loss) & jnp.isfinite(grad_norm)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        # Running observation statistics (nets with `obs_norm` only) follow the batch, not the gradient.
        params = observation_norm.update_from_batch(optax.apply_updates(state.params, updates), batch["observation"],
                                                    batch["valid"], config.unroll_length, sum_over_devices)
        stepped = TrainingState(params=params, opt_state=opt_state, step=state.step + 1)
        new_state = jax.tree_util.tree_map(lambda new, old: jnp.where(finite, new, old), stepped, state)
        lag = (state.step - batch["param_version"][:, :config.unroll_length]).astype(jnp.float32)  # [B, T]
        metrics = dict(outputs._asdict(), total_loss=loss, grad_norm=grad_norm,
                       learning_rate=jnp.asarray(schedule(state.step), jnp.float32),
                       policy_lag_mean=mean_over_devices(jnp.mean(lag)),
                       policy_lag_min=reduce_over_devices(jnp.min(lag), jax.lax.pmin),
                       policy_lag_max=reduce_over_devices(jnp.max(lag), jax.lax.pmax),
                       skipped=1.0 - finite.astype(jnp.float32))
        return new_state, {name: metrics[name] for name in METRIC_NAMES}

    return update_step


def _weigh_valid_step_means(outputs: LossOutputs, weight: jax.Array) -> LossOutputs:
    """`VALID_STEP_MEANS` times `weight`: with the device's valid steps before the pmean and their
    inverse after it, the means cover the valid steps of all devices, however they are split."""
    return outputs._replace(**{name: getattr(outputs, name) * weight for name in VALID_STEP_MEANS})


def make_update(config: LearnerConfig, network: AgentNetwork, *, num_devices: int,
                axis_name: str = "devices", force_pmap: bool = False, stack_metrics: bool = False) -> UpdateFn:
    """The compiled update over `num_devices` local devices.

    Args:
      config: learner hyperparameters.
      network: the agent network.
      num_devices: local devices to use; `config.batch_size` must divide by it.
      axis_name: name of the device axis for the collectives.
      force_pmap: use `jax.pmap` even for one device (benchmark comparison).
      stack_metrics: return the metrics as one float32 array `[num_devices,
        len(METRIC_NAMES)]` (in `METRIC_NAMES` order) instead of a dict, so
        that fetching them is a single device-to-host transfer.

    Returns:
      `update(state, batch) -> (state, metrics)`. Every leaf of `state` (see
      `replicate`), of `batch` (`[num_devices, batch_size // num_devices,
      T + 1, ...]`) and of `metrics` (scalars) has a leading device axis of
      size `num_devices`. The input state's buffers are donated: do not reuse it.

    With one device the step is a plain `jax.jit` that drops and restores the
    size-1 device axis (free in XLA), because `pmap` adds dispatch overhead per
    call (measured in BENCHMARKS.md) for no benefit on one device.
    """
    if num_devices < 1 or num_devices > jax.local_device_count():
        raise ValueError(f"num_devices must be in [1, {jax.local_device_count()}] (local devices: "
                         f"{jax.local_devices()}), got {num_devices}")
    if config.batch_size % num_devices:
        raise ValueError(f"batch_size {config.batch_size} does not divide evenly over {num_devices} devices; "
                         f"choose a batch_size that is a multiple of {num_devices}")
    if num_devices == 1 and not force_pmap:
        step = _maybe_stacked(make_update_step(config, network, axis_name=None), stack_metrics)

        def single_device(state: TrainingState, batch: Batch) -> tuple[TrainingState, Metrics]:
            drop, add = (lambda x: x[0]), (lambda x: x[None])
            new_state, metrics = step(jax.tree_util.tree_map(drop, state), jax.tree_util.tree_map(drop, batch))
            return jax.tree_util.tree_map(add, (new_state, metrics))

        return jax.jit(single_device, donate_argnums=(0,))
    step = _maybe_stacked(make_update_step(config, network, axis_name=axis_name), stack_metrics)
    return jax.pmap(step, axis_name=axis_name, devices=jax.local_devices()[:num_devices], donate_argnums=(0,))


def _maybe_stacked(step: UpdateFn, stack_metrics: bool) -> UpdateFn:
    if not stack_metrics:
        return step

    def stacked(state: TrainingState, batch: Batch) -> tuple[TrainingState, jax.Array]:
        new_state, metrics = step(state, batch)
        return new_state, jnp.stack([metrics[name].astype(jnp.float32) for name in METRIC_NAMES])  # [M]

    return stacked

"""The optax optimiser and learning-rate schedule described by a `LearnerConfig`."""

from __future__ import annotations

import optax

from vtrax.learner.config import LearnerConfig


def learning_rate_schedule(config: LearnerConfig) -> optax.Schedule:
    """Learning rate as a function of the number of applied updates.

    Constant, or (with `lr_decay`) linear from `learning_rate` to zero over
    `total_updates`, as IMPALA anneals it over the run.
    """
    if config.lr_decay:
        return optax.linear_schedule(init_value=config.learning_rate, end_value=0.0,
                                     transition_steps=config.total_updates)
    return optax.constant_schedule(config.learning_rate)


def make_optimizer(config: LearnerConfig) -> optax.GradientTransformation:
    """Global-norm clipping followed by RMSProp or Adam with the config's schedule.

    The gradient that reaches this is already averaged over devices, so the
    clipping sees the same norm on every device and params stay identical.
    """
    schedule = learning_rate_schedule(config)
    if config.optimizer == "rmsprop":
        base = optax.rmsprop(
            learning_rate=schedule,
            decay=config.rmsprop_decay,
            eps=config.rmsprop_eps,
            initial_scale=config.rmsprop_initial_scale,
            eps_in_sqrt=True,
            momentum=config.rmsprop_momentum or None,
        )
    else:
        base = optax.adam(learning_rate=schedule, eps=config.adam_eps)
    if config.max_gradient_norm is None:
        return base
    return optax.chain(optax.clip_by_global_norm(config.max_gradient_norm), base)

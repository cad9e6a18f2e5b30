"""The IMPALA loss (Espeholt et al. 2018, https://arxiv.org/abs/1802.01561) built from `rl_ops`.

One device's batch is batch-major, `[B, T + 1, ...]`. Step t of an item holds
the observation o_t, the action a_t taken at o_t with the behaviour logits at
o_t, the reward r_t that followed, discount_t of that transition and valid_t.
The loss uses the actions, rewards, discounts, validity and logits of steps
0..T-1 and the values of observations 0..T:

    step:        0        1        2     ...   T-1        T
    obs:         o0       o1       o2          o(T-1)     oT   (v_T bootstraps)
    a, mu, r, d: a0 r0 d0 a1 r1 d1 ...          a(T-1) r(T-1) d(T-1)
    v_tm1:       v(o0)    v(o1)    ...         v(o(T-1))
    v_t:                  v(o1)    v(o2)  ...             v(oT)

Episode boundaries follow gymnasium's next-step autoreset (`actors.vector_env`):

    step:      t                     t+1 (autoreset)          t+2
    obs:       o_t                   o_final                  o'_0 (new episode)
    d, valid:  0 terminated, True    0, False                 ..., True
               1 truncated, True
    target:    r_t (terminated)      none: masked             ...
               r_t + γ v(o_final) (truncated)

- Termination: d_t = 0, nothing bootstraps. Truncation: d_t = 1, so step t
  bootstraps from v(o_final), the value of the observation stored at t+1.
- The invalid step t+1 is masked out of every term: its importance ratio and
  discount are set to 0 (so its V-trace error is 0, v_s there equals
  v(o_final), and no trace crosses it); the TD(λ) return stops before it
  (λ_t = λ valid_{t+1}); its pg, entropy and baseline terms are weighted by 0;
  the diagnostics (entropy, ratios, values) average over valid steps only.
- A recurrent core is reset on every episode's first observation, which is the
  one after an invalid step whether the episode terminated or was truncated:
  should_reset[t + 1] = ~valid_t, and should_reset[0] = False because the
  stored core state already belongs to step 0. Its other inputs, the previous
  action and reward, are the stored `prev_action`/`prev_reward` of every step
  (what the actor fed, 0 on an episode's first step), not rebuilt from the
  item: step 0's a_{-1} lies outside it.

The policy's distribution (`learner.action_distribution`, from the network
description) gives log pi(a_t) and log mu(a_t) at the stored action (an int, or a
raw unclipped Gaussian sample [D]), so rho_t = exp(log pi - log mu); the
policy-gradient term is -log pi(a_t) A_t and the entropy that of each step's
distribution (closed form for Gaussians).

Total loss = pg_loss + baseline_cost * 0.5 * errors**2 + entropy_cost * entropy_loss,
each summed over valid steps and divided by B * T ('mean'), or summed ('sum', as
the published code).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Mapping, NamedTuple

import jax
import jax.numpy as jnp

from vtrax import rl_ops
from vtrax.learner.action_distribution import action_distribution
from vtrax.learner.config import LearnerConfig
from vtrax.learner.network import AgentNetwork

Batch = Mapping[str, jax.Array]

BATCH_KEYS = ("observation", "action", "reward", "discount", "valid", "behaviour_logits", "param_version")
CORE_STATE_PREFIX = "core_state/"
RECURRENT_INPUT_KEYS = ("prev_action", "prev_reward")
VALID_STEP_MEANS = ("entropy", "rho_mean", "rho_clipped_fraction", "value_mean")
# Gaussian log-ratios of stale data can be large; exp(20) is far above any clip threshold.
MAX_LOG_RHO = 20.0


class LossOutputs(NamedTuple):
    """Per-device diagnostics of one loss evaluation (scalars).

    The loss terms are divided by B * T; `VALID_STEP_MEANS` are means over valid steps.
    """

    pg_loss: jax.Array
    baseline_loss: jax.Array
    entropy_loss: jax.Array
    entropy: jax.Array
    rho_mean: jax.Array
    rho_clipped_fraction: jax.Array
    value_mean: jax.Array


def clip_rewards(r_t: jax.Array, reward_clipping: str) -> jax.Array:
    """'none', 'abs_one' (clip to [-1, 1]) or 'soft_asymmetric' (5 tanh(r/5), negatives x0.3)."""
    if reward_clipping == "abs_one":
        return jnp.clip(r_t, -1.0, 1.0)
    if reward_clipping == "soft_asymmetric":
        squeezed = jnp.tanh(r_t / 5.0)
        return jnp.where(r_t < 0, 0.3 * squeezed, squeezed) * 5.0
    return r_t


def should_reset_from_valid(valid: jax.Array) -> jax.Array:
    """`[B, T + 1]` bool validity -> `[T + 1, B]` bool resets (see module docstring)."""
    episode_start = ~valid[:, :-1].T  # [T, B]
    return jnp.concatenate([jnp.zeros_like(episode_start[:1]), episode_start], axis=0)  # [T+1, B]


def _masked_mean(x: jax.Array, w: jax.Array) -> jax.Array:
    """Mean of `x` over the steps where `w` is 1 (0 if there is none); x, w [B, T]."""
    return jnp.sum(x * w) / jnp.maximum(jnp.sum(w), 1.0)


def core_state_from_batch(batch: Batch) -> dict[str, jax.Array] | None:
    """The recurrent state at step 0: `{"hidden": [B, H], "cell": [B, H]}` or None."""
    names = sorted(key for key in batch if key.startswith(CORE_STATE_PREFIX))
    if not names:
        return None
    return {name[len(CORE_STATE_PREFIX):]: batch[name][:, 0] for name in names}


def network_outputs(network: AgentNetwork, params: Any, batch: Batch) -> tuple[jax.Array, jax.Array]:
    """Logits `[B, T + 1, A]` and values `[B, T + 1]` for every observation of the batch."""
    observation = batch["observation"]  # [B, T+1, ...]
    if not network.is_recurrent:
        # Feed-forward nets take any leading dims: skip the time-major transpose.
        return network.apply(params, observation)
    time_major = jnp.swapaxes(observation, 0, 1)  # [T+1, B, ...]
    should_reset = should_reset_from_valid(batch["valid"])  # [T+1, B]
    prev_action, prev_reward = (jnp.swapaxes(batch[key], 0, 1) if key in batch else None  # [T+1, B]
                                for key in RECURRENT_INPUT_KEYS)
    logits, values = network.apply(params, time_major, should_reset, core_state_from_batch(batch),
                                   prev_action, prev_reward)
    return jnp.swapaxes(logits, 0, 1), jnp.swapaxes(values, 0, 1)  # [B, T+1, A], [B, T+1]


def make_errors_and_advantages(config: LearnerConfig) -> Callable[..., tuple[jax.Array, jax.Array]]:
    """`fn(v_tm1, v_t, r_t, discount_t, rho_tm1, valid) -> (errors, pg_advantage)`, masked (module docstring).

    Args (of `fn`):
      v_tm1: values of o_0..o_{T-1}, [B, T].
      v_t: values of o_1..o_T, [B, T].
      r_t: (clipped) rewards of steps 0..T-1, [B, T].
      discount_t: γ times the stored discounts of steps 0..T-1, [B, T].
      rho_tm1: importance ratios π/μ of a_0..a_{T-1}, [B, T].
      valid: validity of steps 0..T, bool [B, T + 1].

    Returns:
      `errors` = baseline target - v_tm1 (V-trace or TD(λ), per `config.baseline`) and
      the V-trace `pg_advantage`, each [B, T] and 0 at invalid steps.
    """
    vtrace = jax.vmap(functools.partial(
        rl_ops.vtrace_td_error_and_advantage, lambda_=config.lambda_,
        clip_rho_threshold=config.clip_rho_threshold, clip_pg_rho_threshold=config.clip_pg_rho_threshold))
    td_lambda = jax.vmap(rl_ops.td_lambda)

    def errors_and_advantages(v_tm1, v_t, r_t, discount_t, rho_tm1, valid):
        w_t = valid[:, :-1].astype(jnp.float32)  # [B, T]
        discount_t = discount_t * w_t  # [B, T]
        # NOTE: ratio 0 at an invalid step zeroes its error and advantage and cuts the trace there.
        vtrace_out = vtrace(v_tm1, v_t, r_t, discount_t, jnp.where(valid[:, :-1], rho_tm1, 0.0))  # each [B, T]
        if config.baseline == "vtrace":
            return vtrace_out.errors * w_t, vtrace_out.pg_advantage
        lambda_t = config.lambda_ * valid[:, 1:].astype(jnp.float32)  # [B, T]: stop before an invalid step
        return td_lambda(v_tm1, r_t, discount_t, v_t, lambda_t) * w_t, vtrace_out.pg_advantage

    return errors_and_advantages


def make_loss(config: LearnerConfig, network: AgentNetwork) -> Callable[[Any, Batch], tuple[jax.Array, LossOutputs]]:
    """`loss(params, batch) -> (total_loss, LossOutputs)` for one device's `[B, T + 1, ...]` batch."""
    errors_and_advantages = make_errors_and_advantages(config)
    distribution = action_distribution(network.description)
    # 'sum' = the per-device mean times the global number of steps; after the
    # pmean over devices that is the sum over the whole (global) batch.
    scale = float(config.batch_size * config.unroll_length) if config.loss_reduction == "sum" else 1.0
    unroll_length = config.unroll_length
    # On-policy ratios are 1 up to float noise (actor and learner evaluate the
    # same params on different batch shapes); do not count that as clipping.
    clip_level = config.clip_rho_threshold * (1.0 + 1e-4)

    def loss(params: Any, batch: Batch) -> tuple[jax.Array, LossOutputs]:
        logits, values = network_outputs(network, params, batch)  # [B, T+1, P], [B, T+1]
        logits_t = logits[:, :unroll_length]  # [B, T, P]: categorical logits or Gaussian parameters
        a_t = batch["action"][:, :unroll_length]  # [B, T] int or [B, T, D] float (raw, unclipped)
        valid = batch["valid"].astype(bool)  # [B, T+1]
        w_t = valid[:, :unroll_length].astype(jnp.float32)  # [B, T]: 0 on autoreset steps
        r_t = clip_rewards(batch["reward"][:, :unroll_length], config.reward_clipping) * config.reward_scale  # [B, T]
        discount_t = batch["discount"][:, :unroll_length] * config.discount  # [B, T]
        behaviour_logits_t = batch["behaviour_logits"][:, :unroll_length]  # [B, T, P]
        log_pi_t = distribution.logprob(a_t, logits_t)  # [B, T]
        log_mu_t = distribution.logprob(a_t, behaviour_logits_t)  # [B, T]
        # NOTE: invalid steps may hold any action; their ratio is zeroed below, so clamp before exp.
        rho_t = jax.lax.stop_gradient(jnp.exp(jnp.minimum(log_pi_t - log_mu_t, MAX_LOG_RHO)))  # [B, T]
        v_tm1, v_t = values[:, :-1], values[:, 1:]  # [B, T], [B, T]
        errors, pg_advantage = errors_and_advantages(v_tm1, v_t, r_t, discount_t, rho_t, valid)  # [B, T] each
        pg_loss = jnp.mean(-log_pi_t * jax.lax.stop_gradient(pg_advantage) * w_t)  # []
        entropy_loss = -jnp.mean(distribution.entropy(logits_t) * w_t)  # []
        baseline_loss = 0.5 * jnp.mean(jnp.square(errors))  # []
        outputs = LossOutputs(
            pg_loss=scale * pg_loss,
            baseline_loss=scale * config.baseline_cost * baseline_loss,
            entropy_loss=scale * config.entropy_cost * entropy_loss,
            entropy=-entropy_loss * w_t.size / jnp.maximum(jnp.sum(w_t), 1.0),  # mean over valid steps
            rho_mean=_masked_mean(rho_t, w_t),
            rho_clipped_fraction=_masked_mean((rho_t > clip_level).astype(jnp.float32), w_t),
            value_mean=_masked_mean(v_tm1, w_t))
        return outputs.pg_loss + outputs.baseline_loss + outputs.entropy_loss, outputs

    return loss

"""R2D2's loss against hand-computed values: sequence priorities, burn-in, value-rescaled double-Q errors."""

import jax
import jax.numpy as jnp
import numpy as np

from vtrax import rl_ops
from vtrax.learner import make_network
from vtrax.learner.r2d2_loss import make_r2d2_loss, sequence_priorities, unroll_q_values

NETWORK = make_network("mlp", 2, hidden_sizes=(8,), use_lstm=True, lstm_size=4)
B, L = 3, 6


def _batch(seed=0):
    rng = np.random.default_rng(seed)
    valid = np.ones((B, L), bool)
    valid[1, 3] = False  # an autoreset step inside sequence 1
    return {"observation": rng.standard_normal((B, L, 4)).astype(np.float32),
            "action": rng.integers(0, 2, (B, L)).astype(np.int32),
            "reward": rng.standard_normal((B, L)).astype(np.float32),
            "discount": np.where(valid, 1.0, 0.0).astype(np.float32), "valid": valid,
            "prev_action": rng.integers(0, 2, (B, L)).astype(np.int32),
            "prev_reward": rng.standard_normal((B, L)).astype(np.float32),
            "core_state/hidden": 0.1 * rng.standard_normal((B, L, 4)).astype(np.float32),
            "core_state/cell": 0.1 * rng.standard_normal((B, L, 4)).astype(np.float32),
            "info/probability": np.array([0.1, 0.2, 0.4])}


def _params(batch, seed):
    return NETWORK.init(jax.random.PRNGKey(seed), np.swapaxes(batch["observation"], 0, 1))


def test_sequence_priority_mixes_max_and_mean_over_valid_steps():
    priorities = sequence_priorities(jnp.array([[1.0, 3.0, 2.0], [0.0, 0.0, 4.0]]),
                                     jnp.array([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]]), 0.9)
    np.testing.assert_allclose(priorities, [0.9 * 3 + 0.1 * 2, 0.9 * 4 + 0.1 * 4 / 3], rtol=1e-6)


def test_burn_in_only_warms_the_state_up():
    batch = _batch()
    params = _params(batch, 0)
    full = unroll_q_values(NETWORK, params, batch, burn_in=0)  # [B, L, A]
    burnt = unroll_q_values(NETWORK, params, batch, burn_in=2)  # [B, L - 2, A]
    np.testing.assert_allclose(burnt, full[:, 2:], rtol=1e-5, atol=1e-6)


def test_one_step_errors_are_value_rescaled_double_q_and_masked():
    batch, gamma, burn_in = _batch(), 0.9, 2
    params, target_params = _params(batch, 0), _params(batch, 1)
    loss_fn = jax.jit(make_r2d2_loss(NETWORK, burn_in=burn_in, n_step=1, discount=gamma,
                                     importance_sampling_exponent=0.5, max_priority_weight=0.9))
    loss, outputs = loss_fn(params, target_params, batch)
    q = np.asarray(unroll_q_values(NETWORK, params, batch, burn_in))  # [B, 4, A]
    q_target = np.asarray(unroll_q_values(NETWORK, target_params, batch, burn_in))
    h, h_inv = rl_ops.signed_hyperbolic, rl_ops.signed_parabolic
    rows, steps = np.arange(B)[:, None], np.arange(3)[None, :]
    bootstrap = q_target[:, 1:][rows, steps, q[:, 1:].argmax(-1)]  # [B, 3]
    mask = batch["valid"][:, burn_in:-1].astype(np.float32)
    discount = gamma * batch["discount"][:, burn_in:-1] * mask
    target = np.asarray(h(batch["reward"][:, burn_in:-1] + discount * np.asarray(h_inv(bootstrap))))
    errors = (target - q[:, :-1][rows, steps, batch["action"][:, burn_in:-1]]) * mask  # [B, 3]
    assert errors[1, 1] == 0.0  # step 3 of sequence 1 is invalid
    weights = (batch["info/probability"] ** -0.5) / (0.1**-0.5)
    np.testing.assert_allclose(loss, np.sum(weights[:, None] * 0.5 * errors**2) / mask.sum(), rtol=1e-4)
    np.testing.assert_allclose(outputs.priorities, sequence_priorities(jnp.abs(errors), mask, 0.9), rtol=1e-4,
                               atol=1e-6)

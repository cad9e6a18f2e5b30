"""The IMPALA loss against an explicit per-step computation; gradients; recurrent resets."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vtrax import learner
from vtrax.learner.loss import network_outputs, should_reset_from_valid
from learner_testlib import tabular_network

NUM_STATES, NUM_ACTIONS, B, T = 3, 3, 2, 4


def _hand_batch():
    """Two trajectories of T + 1 = 5 steps; the first ends an episode at step 1."""
    rng = np.random.default_rng(1)
    states = np.array([[0, 1, 2, 0, 1], [2, 2, 1, 0, 0]])
    return {
        "observation": np.eye(NUM_STATES, dtype=np.float32)[states],  # [B, T+1, S]
        "action": np.array([[0, 2, 1, 1, 0], [1, 0, 2, 2, 1]], np.int32),
        "reward": np.array([[1.0, -2.0, 0.5, 3.0, 9.0], [0.0, 1.0, -1.0, 2.0, 9.0]], np.float32),
        "discount": np.array([[1, 0, 1, 1, 1], [1, 1, 1, 1, 0]], np.float32),
        "valid": np.ones((B, T + 1), bool),
        "behaviour_logits": rng.normal(size=(B, T + 1, NUM_ACTIONS)).astype(np.float32),
        "param_version": np.zeros((B, T + 1), np.int32),
    }


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _expected(params, batch, config):
    """Loss terms from the V-trace paper's formulas, one step at a time in float64."""
    logits_table = np.asarray(params["table"]["logits"], np.float64)
    value_table = np.asarray(params["table"]["values"], np.float64)
    states = batch["observation"].argmax(-1)
    gamma, lam = config.discount, config.lambda_
    pg, baseline, entropy, rhos = [], [], [], []
    for b in range(B):
        v = value_table[states[b]]  # [T+1]
        pi = _softmax(logits_table[states[b]])  # [T+1, A]
        mu = _softmax(batch["behaviour_logits"][b].astype(np.float64))
        a, d = batch["action"][b], batch["discount"][b] * gamma
        r = batch["reward"][b].astype(np.float64)
        if config.reward_clipping == "abs_one":
            r = np.clip(r, -1, 1)
        rho = np.array([pi[t, a[t]] / mu[t, a[t]] for t in range(T)])
        vs = np.zeros(T + 1)
        vs[T] = v[T]
        for t in reversed(range(T)):  # v_s - V(x_s) = delta_s + gamma c_s (v_{s+1} - V(x_{s+1}))
            delta = min(config.clip_rho_threshold, rho[t]) * (r[t] + d[t] * v[t + 1] - v[t])
            vs[t] = v[t] + delta + d[t] * lam * min(1.0, rho[t]) * (vs[t + 1] - v[t + 1])
        if config.baseline == "td_lambda":
            returns = np.zeros(T + 1)
            returns[T] = v[T]
            for t in reversed(range(T)):
                returns[t] = r[t] + d[t] * ((1 - lam) * v[t + 1] + lam * returns[t + 1])
            targets = returns
        else:
            targets = vs
        for t in range(T):
            q = r[t] + d[t] * (lam * vs[t + 1] + (1 - lam) * v[t + 1])
            advantage = min(config.clip_pg_rho_threshold, rho[t]) * (q - v[t])
            pg.append(-np.log(pi[t, a[t]]) * advantage)
            baseline.append(0.5 * (targets[t] - v[t]) ** 2)
            entropy.append(np.sum(pi[t] * np.log(pi[t])))  # = -H
            rhos.append(rho[t])
    scale = B * T if config.loss_reduction == "sum" else 1
    return dict(pg_loss=scale * np.mean(pg), baseline_loss=scale * config.baseline_cost * np.mean(baseline),
                entropy_loss=scale * config.entropy_cost * np.mean(entropy), rho_mean=np.mean(rhos),
                rho_clipped_fraction=np.mean(np.array(rhos) > config.clip_rho_threshold * (1 + 1e-4)))


@pytest.mark.parametrize("overrides", [
    dict(),
    dict(lambda_=0.9, clip_rho_threshold=0.8, clip_pg_rho_threshold=1.5, discount=0.9),
    dict(baseline="td_lambda", lambda_=0.7, reward_clipping="abs_one"),
    dict(loss_reduction="sum", baseline_cost=0.25, entropy_cost=0.1),
])
def test_loss_equals_explicit_per_step_computation(overrides):
    config = learner.LearnerConfig(batch_size=B, unroll_length=T, **overrides)
    network = tabular_network(NUM_STATES, NUM_ACTIONS)
    batch = _hand_batch()
    params = network.init(jax.random.PRNGKey(3), batch["observation"])
    total, outputs = jax.jit(learner.make_loss(config, network))(params, batch)
    expected = _expected(params, batch, config)
    for name, value in expected.items():
        np.testing.assert_allclose(getattr(outputs, name), value, rtol=1e-4, atol=1e-5, err_msg=name)
    np.testing.assert_allclose(total, expected["pg_loss"] + expected["baseline_loss"] + expected["entropy_loss"],
                               rtol=1e-4)


def test_gradients_are_finite_and_reach_every_parameter():
    config = learner.cartpole_config(batch_size=8, unroll_length=6)
    network = learner.make_network("mlp", 2, hidden_sizes=(16, 16))
    batch = {k: v[0] for k, v in learner.synthetic_batch(config, network, (4,)).items()}
    params = network.init(jax.random.PRNGKey(0), batch["observation"])
    grads, _ = jax.grad(learner.make_loss(config, network), has_aux=True)(params, batch)
    for path, grad in jax.tree_util.tree_flatten_with_path(grads)[0]:
        assert np.all(np.isfinite(grad)), jax.tree_util.keystr(path)
        assert np.any(grad != 0), f"no gradient reaches {jax.tree_util.keystr(path)}"


def test_value_targets_carry_no_gradient_into_the_policy_through_rho():
    """Only the pg and entropy terms move the logits; the baseline term moves only values."""
    config = learner.LearnerConfig(batch_size=B, unroll_length=T, entropy_cost=0.0)
    network = tabular_network(NUM_STATES, NUM_ACTIONS)
    batch = _hand_batch()
    params = network.init(jax.random.PRNGKey(3), batch["observation"])
    loss = learner.make_loss(config, network)
    baseline_grads = jax.grad(lambda p: loss(p, batch)[1].baseline_loss)(params)
    np.testing.assert_array_equal(baseline_grads["table"]["logits"], 0.0)
    pg_grads = jax.grad(lambda p: loss(p, batch)[1].pg_loss)(params)
    np.testing.assert_array_equal(pg_grads["table"]["values"], 0.0)


def test_reward_clipping_modes():
    r = jnp.array([-10.0, -0.5, 0.0, 0.5, 10.0])
    np.testing.assert_allclose(learner.clip_rewards(r, "none"), r)
    np.testing.assert_allclose(learner.clip_rewards(r, "abs_one"), [-1, -0.5, 0, 0.5, 1])
    soft = np.tanh(np.array([-10.0, -0.5, 0.0, 0.5, 10.0]) / 5) * 5
    np.testing.assert_allclose(learner.clip_rewards(r, "soft_asymmetric"), np.where(r < 0, 0.3 * soft, soft),
                               rtol=1e-6)


def test_should_reset_marks_the_step_after_each_autoreset_step():
    valid = jnp.array([[True, False, True, True, False], [True] * 5])  # [B, T+1]
    np.testing.assert_array_equal(should_reset_from_valid(valid).T,
                                  [[False, False, True, False, False], [False] * 5])


def test_recurrent_unroll_resets_the_core_at_episode_starts():
    """Outputs equal unrolling each episode piece separately, from the stored state then from zeros."""
    config = learner.LearnerConfig(batch_size=2, unroll_length=5)
    network = learner.make_network("impala_shallow", 3, use_lstm=True, lstm_size=8)
    rng = np.random.default_rng(0)
    observation = rng.integers(0, 256, size=(2, 6, 36, 36, 1), dtype=np.uint8)  # [B, T+1, H, W, C]
    valid = np.array([[1, 1, 0, 1, 1, 1], [1, 1, 1, 1, 1, 1]], bool)  # step 2 is the autoreset step
    core = {"hidden": rng.normal(size=(2, 6, 8)).astype(np.float32),
            "cell": rng.normal(size=(2, 6, 8)).astype(np.float32)}
    batch = {"observation": observation, "valid": valid,
             "core_state/hidden": core["hidden"], "core_state/cell": core["cell"]}
    params = network.init(jax.random.PRNGKey(0), np.swapaxes(observation, 0, 1))
    logits, values = network_outputs(network, params, batch)  # [B, T+1, A], [B, T+1]
    assert logits.shape == (2, 6, 3) and values.shape == (2, 6)

    def piece(b, start, stop, state):
        obs = observation[b:b + 1, start:stop].swapaxes(0, 1)  # [t, 1, ...]
        return network.apply(params, obs, None, state)

    stored = {name: value[0:1, 0] for name, value in core.items()}
    first, second = piece(0, 0, 3, stored), piece(0, 3, 6, network.initial_state(1))
    np.testing.assert_allclose(logits[0, :3], first[0][:, 0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logits[0, 3:], second[0][:, 0], rtol=1e-5, atol=1e-6)
    whole = piece(1, 0, 6, {name: value[1:2, 0] for name, value in core.items()})
    np.testing.assert_allclose(values[1], whole[1][:, 0], rtol=1e-5, atol=1e-6)
    # Without the reset the second piece would differ: the test can tell.
    no_reset = piece(0, 0, 6, stored)
    assert not np.allclose(no_reset[0][3:, 0], second[0][:, 0], atol=1e-4)


def _batch_with_an_autoreset_step():
    """The hand batch with state 3 seen only at autoreset steps: item 0 truncated at step 1, item 1 terminated at 2."""
    batch = _hand_batch()
    states = np.array([[0, 1, 3, 2, 0], [2, 2, 1, 3, 0]])  # o_final = state 3 at the invalid steps
    batch["observation"] = np.eye(NUM_STATES + 1, dtype=np.float32)[states]
    batch["discount"] = np.array([[1, 1, 0, 1, 1], [1, 1, 0, 0, 1]], np.float32)
    batch["valid"] = np.array([[True, True, False, True, True], [True, True, True, False, True]])
    return batch


@pytest.mark.parametrize("baseline", ["vtrace", "td_lambda"])
def test_the_autoreset_step_contributes_nothing_to_any_loss_term(baseline):
    config = learner.LearnerConfig(batch_size=B, unroll_length=T, baseline=baseline, lambda_=0.8)
    network = tabular_network(NUM_STATES + 1, NUM_ACTIONS)
    batch = _batch_with_an_autoreset_step()
    params = network.init(jax.random.PRNGKey(3), batch["observation"])
    loss = learner.make_loss(config, network)
    for term in ("pg_loss", "entropy_loss", "baseline_loss"):
        grads = jax.grad(lambda p: getattr(loss(p, batch)[1], term))(params)
        np.testing.assert_array_equal(grads["table"]["logits"][3], 0.0, err_msg=term)  # state 3: invalid only
        np.testing.assert_array_equal(grads["table"]["values"][3], 0.0, err_msg=term)  # (a stopped bootstrap)
        assert np.any(grads["table"]["logits"] != 0) or term == "baseline_loss", term
    # Whatever the env ignored (action, reward, behaviour logits) changes nothing.
    changed = {key: value.copy() for key, value in batch.items()}
    changed["action"][0, 2], changed["reward"][0, 2], changed["reward"][1, 3] = 2, 100.0, -50.0
    changed["behaviour_logits"][0, 2, 0] += 5.0
    np.testing.assert_array_equal(loss(params, changed)[0], loss(params, batch)[0])


def test_statistics_average_over_valid_steps_only():
    config = learner.LearnerConfig(batch_size=B, unroll_length=T)
    network = tabular_network(NUM_STATES + 1, NUM_ACTIONS)
    batch = _batch_with_an_autoreset_step()
    params = network.init(jax.random.PRNGKey(3), batch["observation"])
    outputs = learner.make_loss(config, network)(params, batch)[1]
    logits = np.asarray(batch["observation"][:, :T] @ params["table"]["logits"], np.float64)  # [B, T, A]
    valid = batch["valid"][:, :T]
    entropy = -np.sum(_softmax(logits) * np.log(_softmax(logits)), -1)  # [B, T]
    values = batch["observation"][:, :T] @ np.asarray(params["table"]["values"])  # [B, T]
    np.testing.assert_allclose(outputs.entropy, entropy[valid].mean(), rtol=1e-5)
    np.testing.assert_allclose(outputs.value_mean, values[valid].mean(), rtol=1e-5)


def test_recurrent_loss_ignores_what_the_autoreset_step_did():
    config = learner.LearnerConfig(batch_size=2, unroll_length=5)
    network = learner.make_network("impala_shallow", 3, use_lstm=True, lstm_size=8)
    batch = {key: value[0] for key, value in learner.synthetic_batch(
        config, network, (36, 36, 1), observation_dtype=np.uint8, core_size=8).items()}
    batch["valid"] = np.array([[1, 1, 0, 1, 1, 1], [1, 1, 1, 1, 0, 1]], bool)
    params = network.init(jax.random.PRNGKey(0), np.swapaxes(batch["observation"], 0, 1))
    loss = jax.jit(learner.make_loss(config, network))
    changed = {key: value.copy() for key, value in batch.items()}
    changed["action"][0, 2] = (changed["action"][0, 2] + 1) % 3
    changed["reward"][1, 4] += 100.0
    changed["behaviour_logits"][0, 2, 0] += 3.0
    changed["behaviour_logits"][1, 4, 1] += 3.0
    (total, outputs), grads = jax.value_and_grad(loss, has_aux=True)(params, batch)
    (total_changed, _), grads_changed = jax.value_and_grad(loss, has_aux=True)(params, changed)
    np.testing.assert_allclose(total_changed, total, rtol=1e-6)
    for grad, grad_changed in zip(jax.tree_util.tree_leaves(grads), jax.tree_util.tree_leaves(grads_changed)):
        np.testing.assert_allclose(grad_changed, grad, rtol=1e-5, atol=1e-7)

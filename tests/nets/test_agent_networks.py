"""The agent networks: shapes for any leading dims, numerics vs hand-written torsos, unroll vs stepping."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vtrax import nets
from nets_reference import conv2d_nhwc, impala_deep_torso, linear, random_params

KEY = jax.random.PRNGKey(8)
A = 5


def frames(shape, seed=0):
    return jax.random.randint(jax.random.PRNGKey(seed), shape, 0, 256).astype(jnp.uint8)


@pytest.mark.parametrize("leading", [(), (7,), (4, 3)])
def test_policy_value_mlp_shapes_for_any_leading_dims(leading):
    net = nets.transform(lambda obs: nets.PolicyValueMLP(A)(obs))
    obs = jnp.ones(leading + (6,))
    logits, value = net.apply(net.init(KEY, obs), None, obs)
    assert logits.shape == leading + (A,) and value.shape == leading


def test_policy_value_mlp_matches_reference_and_params_work_across_batch_shapes():
    net = nets.transform(lambda obs: nets.PolicyValueMLP(A, hidden_sizes=(8, 8))(obs))
    obs = jax.random.normal(KEY, (3, 2, 6))
    params = random_params(net.init(KEY, obs[0]))  # init at [B, D], apply at [T, B, D]
    logits, value = net.apply(params, None, obs)
    p = lambda name: params[f"policy_value_mlp/~/{name}"]
    h = jax.nn.relu(linear(obs, p("torso/~/linear_0")["w"], p("torso/~/linear_0")["b"]))
    h = jax.nn.relu(linear(h, p("torso/~/linear_1")["w"], p("torso/~/linear_1")["b"]))
    np.testing.assert_allclose(logits, linear(h, p("policy_logits")["w"], p("policy_logits")["b"]), rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_allclose(value, linear(h, p("value")["w"], p("value")["b"])[..., 0], rtol=1e-5, atol=1e-5)


def test_deep_torso_matches_reference_built_from_hand_written_ops():
    obs = frames((2, 12, 12, 4))
    net = nets.transform(lambda x: nets.ImpalaDeepTorso()(x))
    params = jax.tree_util.tree_map(lambda x: 0.05 * x, random_params(net.init(KEY, obs)))
    expected = impala_deep_torso(params, "impala_deep_torso", obs)
    scale = float(jnp.abs(expected).max())
    assert scale > 0.1  # the comparison below is not between two near-zero arrays
    np.testing.assert_allclose(net.apply(params, None, obs), expected, rtol=1e-4, atol=1e-5 * scale)


def test_shallow_torso_matches_reference():
    obs = frames((2, 20, 20, 4))
    net = nets.transform(lambda x: nets.ImpalaShallowTorso()(x))
    params = random_params(net.init(KEY, obs))
    p = lambda name: params[f"impala_shallow_torso/{name}"]
    x = obs.astype(jnp.float32) / 255.0
    x = jax.nn.relu(conv2d_nhwc(x, p("conv_0")["w"], p("conv_0")["b"], (4, 4), "VALID"))
    x = jax.nn.relu(conv2d_nhwc(x, p("conv_1")["w"], p("conv_1")["b"], (2, 2), "VALID"))
    expected = jax.nn.relu(linear(x.reshape(2, -1), p("linear")["w"], p("linear")["b"]))
    np.testing.assert_allclose(net.apply(params, None, obs), expected, rtol=1e-3, atol=1e-3)  # float32 sums of ~1e3


@pytest.mark.parametrize("torso", ["deep", "shallow"])
def test_impala_net_on_atari_frames(torso):
    net = nets.transform(lambda x: nets.ImpalaNet(A, torso=torso)(x))
    obs = frames((1, 84, 84, 4))
    params = net.init(KEY, obs)
    logits, value = jax.jit(net.apply)(params, None, obs)
    assert logits.shape == (1, A) and value.shape == (1,)
    assert bool(jnp.all(jnp.isfinite(logits))) and bool(jnp.all(jnp.isfinite(value)))
    for leading in [(), (3,), (2, 3)]:
        shapes = jax.eval_shape(net.apply, params, None, jax.ShapeDtypeStruct(leading + (84, 84, 4), jnp.uint8))
        assert shapes[0].shape == leading + (A,) and shapes[1].shape == leading


def test_feed_forward_unroll_equals_call_on_time_batch():
    obs = frames((3, 2, 12, 12, 4))
    call = nets.transform(lambda x: nets.ImpalaNet(A)(x))
    unroll = nets.transform(lambda x, r: nets.ImpalaNet(A).unroll(x, r, None))
    params = call.init(KEY, obs)
    (logits, value), state = unroll.apply(params, None, obs, jnp.zeros([3, 2], bool))
    expected_logits, expected_value = call.apply(params, None, obs)
    assert state is None
    np.testing.assert_allclose(logits, expected_logits, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(value, expected_value, rtol=1e-5, atol=1e-5)


def recurrent_fns(lstm_size=8):
    make = lambda: nets.ImpalaNet(A, use_lstm=True, lstm_size=lstm_size)
    step = nets.transform(lambda x, s: make()(x, s))
    unroll = nets.transform(lambda x, r, s: make().unroll(x, r, s))
    initial = nets.transform(lambda b: make().initial_state(b))
    return step, unroll, initial


def test_recurrent_unroll_equals_stepping_with_resets_and_shares_params_with_step():
    step, unroll, initial = recurrent_fns()
    T, B = 4, 2
    obs = frames((T, B, 12, 12, 4))
    should_reset = jnp.array([[False, False], [False, True], [True, False], [False, False]])
    state0 = initial.apply({}, None, B)
    assert state0.hidden.shape == (B, 8) and state0.cell.shape == (B, 8)
    params = random_params(step.init(KEY, obs[0], state0))
    assert jax.tree_util.tree_structure(params) == jax.tree_util.tree_structure(
        unroll.init(KEY, obs, should_reset, state0))
    assert params["impala_net/~/lstm/linear"]["w"].shape == (256 + 8, 32)

    # Start from a non-zero state so the resets are visible.
    state = nets.LSTMState(hidden=jnp.full([B, 8], 0.5), cell=jnp.full([B, 8], -0.5))
    (logits, value), final = unroll.apply(params, None, obs, should_reset, state)
    assert logits.shape == (T, B, A) and value.shape == (T, B)
    expected_logits, expected_values = [], []
    for t in range(T):
        keep = (~should_reset[t])[:, None]
        state = jax.tree_util.tree_map(lambda s, i: jnp.where(keep, s, i), state, state0)
        (step_logits, step_value), state = step.apply(params, None, obs[t], state)
        expected_logits.append(step_logits)
        expected_values.append(step_value)
    np.testing.assert_allclose(logits, jnp.stack(expected_logits), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(value, jnp.stack(expected_values), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(final.hidden, state.hidden, rtol=1e-4, atol=1e-4)


def test_unroll_checks_should_reset_shape():
    _, unroll, initial = recurrent_fns()
    obs = frames((3, 2, 12, 12, 4))
    with pytest.raises(ValueError, match=r"should_reset must be \[T, B\] = \(3, 2\), got \(2, 3\)"):
        unroll.init(KEY, obs, jnp.zeros([2, 3], bool), initial.apply({}, None, 2))

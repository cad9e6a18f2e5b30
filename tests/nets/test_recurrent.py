"""LSTM/GRU against hand-written step loops; dynamic_unroll == static_unroll; ResetCore; nets.scan."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vtrax import nets
from nets_reference import gru_step, lstm_step, random_params

KEY = jax.random.PRNGKey(6)
T, B, D, H = 5, 3, 4, 6


def unroll_fn(core_fn, unroll=nets.dynamic_unroll, **kwargs):
    def f(inputs, state=None):
        core = core_fn()
        state = core.initial_state(B) if state is None else state
        return unroll(core, inputs, state, **kwargs)

    return nets.transform(f)


def test_lstm_matches_hand_written_loop_and_haiku_layout():
    xs = jax.random.normal(KEY, (T, B, D))
    net = unroll_fn(lambda: nets.LSTM(H))
    params = random_params(net.init(KEY, xs))
    assert {k: v.shape for k, v in params["lstm/linear"].items()} == {"w": (D + H, 4 * H), "b": (4 * H,)}
    outputs, final = net.apply(params, None, xs)
    h, c, expected = jnp.zeros([B, H]), jnp.zeros([B, H]), []
    for t in range(T):
        h, c = lstm_step(params["lstm/linear"], xs[t], h, c)
        expected.append(h)
    np.testing.assert_allclose(outputs, jnp.stack(expected), rtol=1e-5, atol=1e-5)
    assert isinstance(final, nets.LSTMState)
    np.testing.assert_allclose(final.hidden, h, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(final.cell, c, rtol=1e-5, atol=1e-5)


def test_gru_matches_hand_written_loop_and_haiku_layout():
    xs = jax.random.normal(KEY, (T, B, D))
    net = unroll_fn(lambda: nets.GRU(H))
    params = random_params(net.init(KEY, xs))
    assert {k: v.shape for k, v in params["gru"].items()} == {"w_i": (D, 3 * H), "w_h": (H, 3 * H), "b": (3 * H,)}
    outputs, final = net.apply(params, None, xs)
    h, expected = jnp.zeros([B, H]), []
    for t in range(T):
        h = gru_step(params["gru"], xs[t], h)
        expected.append(h)
    np.testing.assert_allclose(outputs, jnp.stack(expected), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(final, h, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("core_fn", [lambda: nets.LSTM(H), lambda: nets.GRU(H)])
def test_dynamic_unroll_equals_static_unroll(core_fn):
    xs = jax.random.normal(KEY, (T, B, D))
    dynamic, static = unroll_fn(core_fn), unroll_fn(core_fn, unroll=nets.static_unroll)
    params = random_params(dynamic.init(KEY, xs))
    assert jax.tree_util.tree_structure(params) == jax.tree_util.tree_structure(static.init(KEY, xs))
    out_d, state_d = dynamic.apply(params, None, xs)
    out_s, state_s = static.apply(params, None, xs)
    np.testing.assert_allclose(out_d, out_s, rtol=1e-5, atol=1e-6)
    for a, b in zip(jax.tree_util.tree_leaves(state_d), jax.tree_util.tree_leaves(state_s)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_batch_major_reverse_and_all_states():
    xs = jax.random.normal(KEY, (T, B, D))
    time_major = unroll_fn(lambda: nets.LSTM(H))
    params = random_params(time_major.init(KEY, xs))
    out_tm, _ = time_major.apply(params, None, xs)
    out_bm, _ = unroll_fn(lambda: nets.LSTM(H), time_major=False).apply(params, None, jnp.swapaxes(xs, 0, 1))
    np.testing.assert_allclose(jnp.swapaxes(out_bm, 0, 1), out_tm, rtol=1e-5, atol=1e-6)
    out_rev, _ = unroll_fn(lambda: nets.LSTM(H), reverse=True).apply(params, None, xs)
    out_flip, _ = time_major.apply(params, None, xs[::-1])
    np.testing.assert_allclose(out_rev, out_flip[::-1], rtol=1e-5, atol=1e-6)
    out_all, states = unroll_fn(lambda: nets.LSTM(H), return_all_states=True).apply(params, None, xs)
    assert states.hidden.shape == (T, B, H)
    np.testing.assert_allclose(states.hidden, out_tm, rtol=1e-5, atol=1e-6)


def test_reset_core_restarts_from_initial_state_where_flagged():
    xs = jax.random.normal(KEY, (T, B, D))
    should_reset = jnp.zeros([T, B], bool).at[2, 1].set(True).at[4, 0].set(True)

    def f(inputs, resets):
        core = nets.ResetCore(nets.LSTM(H))
        return nets.dynamic_unroll(core, (inputs, resets), core.initial_state(B))

    net = nets.transform(f)
    params = random_params(net.init(KEY, xs, should_reset))
    assert list(params) == ["lstm/linear"]  # ResetCore adds no parameters
    outputs, _ = net.apply(params, None, xs, should_reset)
    h, c, expected = jnp.zeros([B, H]), jnp.zeros([B, H]), []
    for t in range(T):
        keep = (~should_reset[t])[:, None].astype(jnp.float32)
        h, c = lstm_step(params["lstm/linear"], xs[t], h * keep, c * keep)
        expected.append(h)
    np.testing.assert_allclose(outputs, jnp.stack(expected), rtol=1e-5, atol=1e-5)
    # A reset at t=2 for entry 1 makes steps 2.. equal to a fresh unroll from t=2.
    fresh, _ = net.apply(params, None, xs[2:], jnp.zeros([T - 2, B], bool))
    np.testing.assert_allclose(outputs[2:4, 1], fresh[0:2, 1], rtol=1e-5, atol=1e-5)


def test_initial_state_without_batch_and_single_step_call():
    def f(x):
        core = nets.LSTM(H)
        unbatched = core.initial_state(None)
        out, state = core(x, core.initial_state(2))
        return unbatched, out, state

    net = nets.transform(f)
    x = jnp.ones([2, D])
    unbatched, out, state = net.apply(net.init(KEY, x), None, x)
    assert unbatched.hidden.shape == (H,) and out.shape == (2, H) and state.cell.shape == (2, H)


def test_scan_threads_state_and_rng_through_the_loop():
    def f(xs):
        def step(total, x):
            count = nets.get_state("count", [], jnp.int32, init=jnp.zeros)
            nets.set_state("count", count + 1)
            noise = jax.random.uniform(nets.next_rng_key(), ())
            return total + x * nets.get_parameter("w", [], init=jnp.ones), noise

        return nets.scan(step, jnp.zeros([]), xs)

    net = nets.transform_with_state(f)
    xs = jnp.arange(4.0)
    params, state = net.init(KEY, xs)
    assert int(state["~"]["count"]) == 0 and float(params["~"]["w"]) == 1.0
    (total, noise), state = net.apply({"~": {"w": jnp.array(2.0)}}, state, KEY, xs)
    assert float(total) == 12.0 and int(state["~"]["count"]) == 4
    assert len(set(np.asarray(noise).tolist())) == 4  # a fresh key every step
    with pytest.raises(nets.MissingRNGError):
        net.apply(params, state, None, xs)

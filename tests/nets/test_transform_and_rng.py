"""transform / transform_with_state / without_apply_rng, random keys, and the thread-local frame stack."""

import threading

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vtrax import nets
from vtrax.nets import base

KEY = jax.random.PRNGKey(42)


def test_init_returns_haiku_layout_and_apply_uses_given_params():
    net = nets.transform(lambda x: nets.Linear(2)(x))
    x = jnp.arange(6.0).reshape(2, 3)
    params = net.init(KEY, x)
    assert isinstance(params, dict) and isinstance(params["linear"], dict)
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    np.testing.assert_allclose(net.apply(zeros, None, x), np.zeros([2, 2]))
    ones = {"linear": {"w": jnp.ones([3, 2]), "b": jnp.full([2], 0.5)}}
    np.testing.assert_allclose(net.apply(ones, None, x), [[3.5, 3.5], [12.5, 12.5]])


def test_init_is_deterministic_in_the_key_and_accepts_int_seeds():
    net = nets.transform(lambda x: nets.MLP([3, 3])(x))
    x = jnp.ones([1, 2])
    a, b, c = net.init(KEY, x), net.init(KEY, x), net.init(jax.random.PRNGKey(7), x)
    same = jax.tree_util.tree_map(lambda u, v: bool(jnp.all(u == v)), a, b)
    assert all(jax.tree_util.tree_leaves(same))
    assert not jnp.allclose(a["mlp/~/linear_0"]["w"], c["mlp/~/linear_0"]["w"])
    seeded = net.init(42, x)
    np.testing.assert_array_equal(seeded["mlp/~/linear_0"]["w"], a["mlp/~/linear_0"]["w"])


def test_transform_with_state_counts_calls_and_returns_initial_state_from_init():
    def f(x):
        count = nets.get_state("count", [], jnp.int32, init=jnp.zeros)
        nets.set_state("count", count + 1)
        return x * count

    net = nets.transform_with_state(f)
    params, state = net.init(KEY, 2.0)
    assert params == {} and int(state["~"]["count"]) == 0  # init reports the initial value, not the updated one
    out, state = net.apply(params, state, None, 2.0)
    assert float(out) == 0.0 and int(state["~"]["count"]) == 1
    out, state = jax.jit(net.apply)(params, state, None, 2.0)
    assert float(out) == 2.0 and int(state["~"]["count"]) == 2


def test_without_apply_rng_drops_the_rng_argument():
    net = nets.without_apply_rng(nets.transform(lambda x: nets.Linear(1)(x)))
    params = net.init(KEY, jnp.ones([1, 2]))
    assert net.apply(params, jnp.ones([1, 2])).shape == (1, 1)
    stateful = nets.without_apply_rng(nets.transform_with_state(lambda x: nets.Linear(1)(x)))
    params, state = stateful.init(KEY, jnp.ones([1, 2]))
    out, state = stateful.apply(params, state, jnp.ones([1, 2]))
    assert out.shape == (1, 1) and state == {}


def test_next_rng_key_gives_distinct_keys_and_is_reproducible():
    def f():
        return nets.next_rng_key(), nets.next_rng_key(), nets.maybe_next_rng_key()

    net = nets.transform(f)
    k1, k2, k3 = net.apply({}, KEY)
    assert not jnp.array_equal(k1, k2) and not jnp.array_equal(k2, k3)
    again = net.apply({}, KEY)
    np.testing.assert_array_equal(again[0], k1)
    assert nets.transform(lambda: nets.maybe_next_rng_key()).apply({}, None) is None


def test_prng_sequence_take_reserve_and_typed_keys():
    seq = nets.PRNGSequence(0)
    keys = seq.take(3)
    assert len({tuple(np.asarray(k)) for k in keys}) == 3
    seq.reserve(2)
    assert not jnp.array_equal(next(seq), next(seq))
    typed = nets.PRNGSequence(jax.random.key(0))
    assert jax.random.uniform(next(typed)).shape == ()
    with pytest.raises(nets.InvalidRNGKeyError, match="PRNGKey"):
        nets.PRNGSequence(jnp.ones([3]))


def test_running_init_is_true_only_during_init():
    net = nets.transform(lambda: nets.running_init())
    assert net.init(KEY) == {}
    assert net.apply({}, None) is False


def test_dropout_in_mlp_depends_on_the_rng():
    def f(x):
        return nets.MLP([16, 16], activate_final=True)(x, dropout_rate=0.5, rng=nets.next_rng_key())

    net = nets.transform(f)
    x = jnp.ones([4, 8])
    params = net.init(KEY, x)
    a, b = net.apply(params, jax.random.PRNGKey(1), x), net.apply(params, jax.random.PRNGKey(2), x)
    assert not jnp.allclose(a, b)


def test_frames_are_thread_local_and_threads_do_not_interfere():
    barrier = threading.Barrier(4)
    results, failures = {}, []

    def f(x, width):
        layer = nets.Linear(width)
        barrier.wait(timeout=30)  # every thread is now inside its own transform at once
        return layer(x)

    def worker(width):
        try:
            params = nets.transform(f).init(KEY, jnp.ones([1, 2]), width)
            results[width] = params["linear"]["w"].shape
        except Exception as error:  # noqa: BLE001 - reported below
            failures.append(error)

    threads = [threading.Thread(target=worker, args=(width,)) for width in (1, 2, 3, 4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures
    assert results == {1: (2, 1), 2: (2, 2), 3: (2, 3), 4: (2, 4)}
    assert base.current_frame_or_none() is None


def test_frame_stack_is_balanced_after_an_exception():
    def f(x):
        nets.Linear(1)(x)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        nets.transform(f).init(KEY, jnp.ones([1, 1]))
    assert base.current_frame_or_none() is None
    with pytest.raises(nets.ModuleOutsideTransformError):
        nets.Linear(1)


def test_nested_transform_inside_a_transform_has_its_own_frame():
    inner = nets.transform(lambda x: nets.Linear(2, name="inner")(x))

    def outer(x):
        inner_params = inner.init(KEY, x)
        return nets.Linear(2, name="outer")(x), inner_params

    params = nets.transform(outer).init(KEY, jnp.ones([1, 2]))
    assert list(params) == ["outer"]


def test_module_built_in_init_frame_works_when_called_in_a_later_apply_frame():
    # Modules keep their names across frames (e.g. a module captured by a closure).
    holder = {}

    def f(x):
        holder.setdefault("layer", nets.Linear(3))
        return holder["layer"](x)

    net = nets.transform(f)
    params = net.init(KEY, jnp.ones([1, 2]))
    assert net.apply(params, None, jnp.ones([1, 2])).shape == (1, 3)

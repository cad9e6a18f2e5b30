"""Every documented misuse raises its own error type with the module name and the fix."""

import jax
import jax.numpy as jnp
import pytest

from vtrax import nets

KEY = jax.random.PRNGKey(0)


def test_module_constructed_outside_transform():
    with pytest.raises(nets.ModuleOutsideTransformError, match=r"'Linear'.*constructed outside nets.transform.*"
                                                                r"nets.transform\(f\)"):
        nets.Linear(3)


def test_module_called_outside_transform_names_the_module():
    def f(x):
        layer = nets.Linear(3, name="policy_head")
        layer(x)
        return layer

    layer = nets.transform(f).apply({"policy_head": {"w": jnp.ones([2, 3]), "b": jnp.ones([3])}}, None,
                                    jnp.ones([1, 2]))
    with pytest.raises(nets.ModuleOutsideTransformError, match=r"'policy_head'.*called \(.__call__\) outside"):
        layer(jnp.ones([1, 2]))


@pytest.mark.parametrize("call, what", [
    (lambda: nets.get_parameter("w", [1], init=jnp.zeros), "get_parameter"),
    (lambda: nets.next_rng_key(), "next_rng_key"),
    (lambda: nets.get_state("s", [], init=jnp.zeros), "get_state"),
])
def test_free_functions_outside_transform(call, what):
    with pytest.raises(nets.ModuleOutsideTransformError, match=f"{what}.*outside nets.transform"):
        call()


def test_next_rng_key_without_key_in_apply_names_module_and_fix():
    class Noisy(nets.Module):
        def __call__(self, x):
            return x + jax.random.normal(nets.next_rng_key(), x.shape)

    net = nets.transform(lambda x: Noisy()(x))
    params = net.init(KEY, jnp.ones([2]))
    with pytest.raises(nets.MissingRNGError, match=r"module 'noisy' during apply.*apply\(params, "
                                                   r"jax.random.PRNGKey\(seed\)"):
        net.apply(params, None, jnp.ones([2]))
    assert isinstance(nets.MissingRNGError("x"), ValueError)


def test_init_without_key_explains_that_initializers_need_one():
    with pytest.raises(nets.MissingRNGError, match=r"module 'linear' during init.*init\(jax.random.PRNGKey"):
        nets.transform(lambda x: nets.Linear(2)(x)).init(None, jnp.ones([1, 2]))


def test_without_apply_rng_then_random_use_raises_missing_rng():
    net = nets.without_apply_rng(nets.transform(lambda: nets.next_rng_key()))
    with pytest.raises(nets.MissingRNGError, match="without_apply_rng"):
        net.apply({})


def test_parameter_shape_mismatch_in_apply_names_parameter_and_fix():
    net = nets.transform(lambda x: nets.Linear(4)(x))
    params = net.init(KEY, jnp.ones([1, 3]))
    with pytest.raises(nets.ParameterShapeError, match=r"'linear/w' has shape \(3, 4\) but module 'linear' "
                                                       r"requested shape \(5, 4\).*re-run init"):
        net.apply(params, None, jnp.ones([1, 5]))


def test_shared_module_called_on_two_input_sizes_during_init():
    def f(x, y):
        layer = nets.Linear(2)
        return layer(x), layer(y)

    with pytest.raises(nets.ParameterShapeError, match="called twice on inputs of different sizes"):
        nets.transform(f).init(KEY, jnp.ones([1, 3]), jnp.ones([1, 4]))


def test_missing_parameter_in_apply():
    net = nets.transform(lambda x: nets.Linear(2)(x))
    with pytest.raises(nets.MissingParameterError, match=r"'linear/w' during apply.*params that init returned"):
        net.apply({"other": {"w": jnp.ones([1])}}, None, jnp.ones([1, 3]))


def test_state_under_plain_transform_points_to_transform_with_state():
    def f():
        return nets.get_state("count", [], init=jnp.zeros)

    with pytest.raises(nets.UnsupportedStateError, match="transform_with_state"):
        nets.transform(f).init(KEY)


def test_missing_state_in_apply():
    net = nets.transform_with_state(lambda: nets.get_state("count", [], init=jnp.zeros))
    params, _ = net.init(KEY)
    with pytest.raises(nets.MissingStateError, match=r"'~/count'"):
        net.apply(params, {}, None)


def test_bad_rng_and_swapped_arguments_are_explained():
    net = nets.transform(lambda x: nets.Linear(2)(x))
    params = net.init(KEY, jnp.ones([1, 3]))
    with pytest.raises(nets.InvalidRNGKeyError, match=r"apply's rng must be.*without_apply_rng"):
        net.apply(params, jnp.ones([1, 3]))  # forgot the rng argument
    with pytest.raises(TypeError, match=r"apply\(params, rng, \*inputs\)"):
        net.apply(KEY, params, jnp.ones([1, 3]))  # swapped params and rng


def test_parameter_without_initializer_during_init():
    with pytest.raises(ValueError, match="no initializer was given"):
        nets.transform(lambda: nets.get_parameter("w", [2])).init(KEY)


def test_scan_body_cannot_create_parameters_after_the_first_step():
    calls = []

    def f(xs):
        def step(carry, x):
            calls.append(len(calls))
            if len(calls) > 1:  # only the traced loop body (not init's first step) asks for "late"
                x = x * nets.get_parameter("late", [], init=jnp.ones)
            return carry, x

        return nets.scan(step, jnp.zeros([]), xs)

    with pytest.raises(nets.MissingParameterError, match=r"'~/late' was first requested inside a nets.scan loop"):
        nets.transform(f).init(KEY, jnp.ones([3]))


@pytest.mark.parametrize("kwargs, match", [
    ({"torso": "resnet"}, r"torso must be one of \['deep', 'minatar', 'shallow'\], got 'resnet'"),
    ({"num_actions": 0}, "num_actions must be a positive int, got 0"),
    ({"lstm_size": -1, "use_lstm": True}, "lstm_size must be a positive int, got -1"),
])
def test_impala_net_rejects_bad_constructor_arguments(kwargs, match):
    arguments = {"num_actions": 4, **kwargs}
    with pytest.raises(ValueError, match=match):
        nets.transform(lambda: nets.ImpalaNet(**arguments)).init(KEY)


def test_impala_net_state_misuse():
    frames = jnp.zeros([1, 16, 16, 4], jnp.uint8)
    with pytest.raises(ValueError, match="needs the core state"):
        nets.transform(lambda x: nets.ImpalaNet(3, use_lstm=True, lstm_size=4)(x)).init(KEY, frames)
    with pytest.raises(ValueError, match="takes no state"):
        nets.transform(lambda x: nets.ImpalaNet(3)(x, state=(x, x))).init(KEY, frames)
    with pytest.raises(ValueError, match="only for recurrent nets"):
        nets.transform(lambda: nets.ImpalaNet(3).initial_state(1)).init(KEY)


def test_layer_input_rank_errors_are_specific():
    with pytest.raises(ValueError, match=r"rank 4 \[N, H, W, C\].*BatchApply"):
        nets.transform(lambda x: nets.Conv2D(2, 3)(x)).init(KEY, jnp.ones([2, 2, 5, 5, 1]))
    with pytest.raises(ValueError, match=r"\[\.\.\., height, width, channels\]"):
        nets.transform(lambda x: nets.ImpalaDeepTorso()(x)).init(KEY, jnp.ones([84, 84]))
    with pytest.raises(ValueError, match="needs integer ids"):
        nets.transform(lambda x: nets.Embed(4, 2)(x)).init(KEY, jnp.ones([3]))

"""Linear and MLP against hand-written jax.numpy with the same parameters."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vtrax import nets
from nets_reference import linear, random_params

KEY = jax.random.PRNGKey(1)


@pytest.mark.parametrize("leading", [(), (4,), (3, 2)])
def test_linear_matches_reference_for_any_leading_dims(leading):
    x = jax.random.normal(KEY, leading + (5,))
    net = nets.transform(lambda x: nets.Linear(3)(x))
    params = random_params(net.init(KEY, x))
    expected = linear(x, params["linear"]["w"], params["linear"]["b"])
    np.testing.assert_allclose(net.apply(params, None, x), expected, rtol=1e-5, atol=1e-5)


def test_linear_without_bias_has_only_w():
    net = nets.transform(lambda x: nets.Linear(3, with_bias=False)(x))
    x = jnp.ones([2, 4])
    params = net.init(KEY, x)
    assert list(params["linear"]) == ["w"]
    np.testing.assert_allclose(net.apply(params, None, x), x @ params["linear"]["w"], rtol=1e-6)
    with pytest.raises(ValueError, match="with_bias=False"):
        nets.transform(lambda x: nets.Linear(3, with_bias=False, b_init=jnp.ones)(x)).init(KEY, x)


def test_linear_uses_custom_initializers_and_input_dtype():
    init = nets.initializers.Constant(0.25)
    net = nets.transform(lambda x: nets.Linear(2, w_init=init, b_init=nets.initializers.Constant(1.0))(x))
    params = net.init(KEY, jnp.ones([1, 3], jnp.bfloat16))
    assert params["linear"]["w"].dtype == jnp.bfloat16
    np.testing.assert_array_equal(np.asarray(params["linear"]["w"], np.float32), np.full([3, 2], 0.25))
    np.testing.assert_array_equal(np.asarray(params["linear"]["b"], np.float32), np.ones(2))


@pytest.mark.parametrize("activate_final", [False, True])
def test_mlp_matches_reference(activate_final):
    x = jax.random.normal(KEY, (3, 4))
    net = nets.transform(lambda x: nets.MLP([8, 6, 2], activation=jnp.tanh, activate_final=activate_final)(x))
    params = random_params(net.init(KEY, x))
    h = x
    for i in range(3):
        h = linear(h, params[f"mlp/~/linear_{i}"]["w"], params[f"mlp/~/linear_{i}"]["b"])
        if i < 2 or activate_final:
            h = jnp.tanh(h)
    np.testing.assert_allclose(net.apply(params, None, x), h, rtol=1e-5, atol=1e-5)


def test_mlp_without_bias_and_empty_mlp():
    params = nets.transform(lambda x: nets.MLP([3, 3], with_bias=False)(x)).init(KEY, jnp.ones([1, 2]))
    assert all(list(bundle) == ["w"] for bundle in params.values())
    identity = nets.transform(lambda x: nets.MLP([])(x))
    assert identity.init(KEY, jnp.ones([1, 2])) == {}
    np.testing.assert_array_equal(identity.apply({}, None, jnp.ones([1, 2])), np.ones([1, 2]))

"""The MinAtar torso and the 'minatar' agent network: shapes for any leading dims, numerics vs plain ops."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vtrax import nets
from vtrax.learner import make_network
from nets_reference import conv2d_nhwc, linear, random_params

KEY = jax.random.PRNGKey(3)


def grids(shape, seed=0):
    return jax.random.bernoulli(jax.random.PRNGKey(seed), 0.3, shape).astype(jnp.uint8)


@pytest.mark.parametrize("leading", [(), (5,), (3, 2)])
def test_torso_gives_128_features_for_any_leading_dims(leading):
    torso = nets.transform(lambda x: nets.MinAtarTorso()(x))
    observation = grids(leading + (10, 10, 7))
    params = torso.init(KEY, observation)
    assert params["minatar_torso/conv"]["w"].shape == (3, 3, 7, 16)
    assert params["minatar_torso/linear"]["w"].shape == (8 * 8 * 16, 128)
    assert torso.apply(params, None, observation).shape == leading + (128,)


def test_torso_matches_conv_then_linear_built_from_plain_ops_and_does_not_rescale_cells():
    torso = nets.transform(lambda x: nets.MinAtarTorso()(x))
    observation = grids((2, 10, 10, 4), seed=1)
    params = jax.tree_util.tree_map(lambda x: 0.1 * x, random_params(torso.init(KEY, observation)))
    conv, dense = params["minatar_torso/conv"], params["minatar_torso/linear"]
    hidden = jax.nn.relu(conv2d_nhwc(observation.astype(jnp.float32), conv["w"], conv["b"], padding="VALID"))
    expected = jax.nn.relu(linear(hidden.reshape(2, -1), dense["w"], dense["b"]))
    assert float(jnp.abs(expected).max()) > 0.1
    np.testing.assert_allclose(torso.apply(params, None, observation), expected, rtol=1e-4, atol=1e-5)


def test_a_rank_2_input_is_refused_with_the_shape_it_needs():
    torso = nets.transform(lambda x: nets.MinAtarTorso()(x))
    with pytest.raises(ValueError, match=r"\[\.\.\., height, width, channels\] \(e\.g\. \[B, 10, 10, 4\]\), got "
                                         r"shape \(10, 10\)"):
        torso.init(KEY, jnp.zeros((10, 10), jnp.uint8))


@pytest.mark.parametrize("use_lstm", [False, True])
def test_minatar_agent_network_outputs_per_time_and_batch(use_lstm):
    network = make_network("minatar", 3, use_lstm=use_lstm, lstm_size=32, prev_action_reward=use_lstm)
    observation = grids((6, 4, 10, 10, 4))  # [T, B, 10, 10, C]
    params = network.init(KEY, observation)
    extra = dict(prev_action=jnp.zeros((6, 4), jnp.int32), prev_reward=jnp.zeros((6, 4))) if use_lstm else {}
    logits, value = network.apply(params, observation, **extra)
    assert logits.shape == (6, 4, 3) and value.shape == (6, 4)
    assert network.is_recurrent == use_lstm and network.description["kind"] == "minatar"


def test_dueling_minatar_network_is_the_torso_then_value_plus_centred_advantage():
    """'dueling_minatar': q = v + adv - mean(adv) on the torso's features, for [T, B] grids; apply gives (q, max q)."""
    network = make_network("dueling_minatar", 6)
    observation = grids((3, 2, 10, 10, 4), seed=2)
    params = jax.tree_util.tree_map(lambda x: 0.1 * x, random_params(network.init(KEY, observation)))
    assert params["dueling_minatar/~/advantage"]["w"].shape == (128, 6)
    assert params["dueling_minatar/~/value"]["w"].shape == (128, 1)
    q_values, max_q = network.apply(params, observation)[:2]
    torso = nets.transform(lambda x: nets.MinAtarTorso()(x))
    features = torso.apply({"minatar_torso/conv": params["dueling_minatar/~/minatar_torso/conv"],
                            "minatar_torso/linear": params["dueling_minatar/~/minatar_torso/linear"]},
                           None, observation)
    advantage = linear(features, params["dueling_minatar/~/advantage"]["w"], params["dueling_minatar/~/advantage"]["b"])
    value = linear(features, params["dueling_minatar/~/value"]["w"], params["dueling_minatar/~/value"]["b"])
    np.testing.assert_allclose(q_values, value + advantage - advantage.mean(-1, keepdims=True), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(max_q, q_values.max(-1), rtol=1e-6)
    assert network.description == {"kind": "dueling_minatar", "num_actions": 6, "use_lstm": False}
    with pytest.raises(ValueError, match="'dueling_minatar' is feed-forward; drop use_lstm"):
        make_network("dueling_minatar", 6, use_lstm=True)

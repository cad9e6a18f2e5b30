"""apply works under jax.jit, jax.vmap, jax.grad and jax.pmap (4 fake CPU devices from tests/conftest.py)."""

import jax
import jax.numpy as jnp
import numpy as np

from vtrax import nets
from nets_reference import random_params

KEY = jax.random.PRNGKey(9)
A = 3
DEVICES = 4


def mlp_net():
    return nets.without_apply_rng(nets.transform(lambda obs: nets.PolicyValueMLP(A, hidden_sizes=(16,))(obs)))


def recurrent_unroll_net(torso="shallow"):
    return nets.without_apply_rng(nets.transform(
        lambda obs, resets, state: nets.ImpalaNet(A, torso=torso, use_lstm=True, lstm_size=8).unroll(
            obs, resets, state)))


def loss_fn(net):
    def loss(params, obs):
        logits, value = net.apply(params, obs)
        return jnp.mean(jax.nn.logsumexp(logits, axis=-1)) + jnp.mean(value ** 2)
    return loss


def test_jit_and_vmap_of_apply_match_eager():
    net = mlp_net()
    obs = jax.random.normal(KEY, (5, 4))
    params = random_params(net.init(KEY, obs))
    eager = net.apply(params, obs)
    jitted = jax.jit(net.apply)(params, obs)
    per_example = jax.vmap(net.apply, in_axes=(None, 0))(params, obs)
    for got in (jitted, per_example):
        np.testing.assert_allclose(got[0], eager[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got[1], eager[1], rtol=1e-5, atol=1e-6)
    # vmap over parameters too: an ensemble of 2 parameter sets.
    stacked = jax.tree_util.tree_map(lambda x: jnp.stack([x, 2.0 * x]), params)
    ensemble_logits, _ = jax.vmap(net.apply, in_axes=(0, None))(stacked, obs)
    assert ensemble_logits.shape == (2, 5, A)
    # init itself can be jitted (keys and inputs traced).
    jit_params = jax.jit(net.init)(KEY, obs)
    assert jax.tree_util.tree_structure(jit_params) == jax.tree_util.tree_structure(params)


def test_grad_matches_finite_differences():
    net = mlp_net()
    obs = jax.random.normal(KEY, (6, 4))
    params = random_params(net.init(KEY, obs))
    loss = loss_fn(net)
    grads = jax.jit(jax.grad(loss))(params, obs)
    assert jax.tree_util.tree_structure(grads) == jax.tree_util.tree_structure(params)
    direction = random_params(params, seed=11)
    epsilon = 1e-3
    shifted = lambda sign: jax.tree_util.tree_map(lambda p, d: p + sign * epsilon * d, params, direction)
    numeric = (loss(shifted(1.0), obs) - loss(shifted(-1.0), obs)) / (2 * epsilon)
    analytic = sum(jnp.vdot(g, d) for g, d in zip(jax.tree_util.tree_leaves(grads),
                                                  jax.tree_util.tree_leaves(direction)))
    np.testing.assert_allclose(analytic, numeric, rtol=2e-2)


def test_grad_flows_through_recurrent_unroll_to_every_parameter():
    net = recurrent_unroll_net(torso="deep")
    obs = jax.random.randint(KEY, (3, 2, 12, 12, 1), 0, 256).astype(jnp.uint8)
    resets = jnp.array([[True, True], [False, True], [False, False]])
    state = nets.LSTMState(jnp.zeros([2, 8]), jnp.zeros([2, 8]))
    params = net.init(KEY, obs, resets, state)

    def loss(params):
        (logits, value), _ = net.apply(params, obs, resets, state)
        return jnp.sum(logits ** 2) + jnp.sum(value ** 2)

    grads = jax.jit(jax.grad(loss))(params)
    norms = {f"{path}/{name}": float(jnp.linalg.norm(g))
             for path, bundle in grads.items() for name, g in bundle.items()}
    assert all(np.isfinite(list(norms.values())))
    assert all(norm > 0 for name, norm in norms.items() if name.endswith("/w")), norms


def require_devices():
    assert jax.local_device_count() >= DEVICES, (
        "pmap tests need 4 devices: tests/conftest.py sets XLA_FLAGS=--xla_force_host_platform_device_count=4 "
        "before jax is imported; run them through pytest from the repository root.")


def test_pmap_apply_and_pmean_gradients_match_single_device():
    require_devices()
    net = mlp_net()
    obs = jax.random.normal(KEY, (DEVICES, 2, 4))  # [devices, per-device batch, D]
    params = random_params(net.init(KEY, obs[0]))
    replicated = jax.device_put_replicated(params, jax.local_devices()[:DEVICES])
    logits, value = jax.pmap(net.apply)(replicated, obs)
    single_logits, single_value = net.apply(params, obs.reshape(DEVICES * 2, 4))
    np.testing.assert_allclose(logits.reshape(DEVICES * 2, A), single_logits, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(value.reshape(-1), single_value, rtol=1e-5, atol=1e-6)

    loss = loss_fn(net)
    grad_step = jax.pmap(lambda p, o: jax.lax.pmean(jax.grad(loss)(p, o), "devices"), axis_name="devices")
    pmapped_grads = grad_step(replicated, obs)
    full_grads = jax.grad(loss)(params, obs.reshape(DEVICES * 2, 4))
    for got, want in zip(jax.tree_util.tree_leaves(pmapped_grads), jax.tree_util.tree_leaves(full_grads)):
        for device_index in range(DEVICES):
            np.testing.assert_allclose(got[device_index], want, rtol=1e-4, atol=1e-6)


def test_pmap_of_recurrent_unroll():
    require_devices()
    net = recurrent_unroll_net()
    obs = jax.random.randint(KEY, (DEVICES, 2, 1, 20, 20, 1), 0, 256).astype(jnp.uint8)  # [devices, T, B, ...]
    resets = jnp.zeros([DEVICES, 2, 1], bool)
    state = nets.LSTMState(jnp.zeros([DEVICES, 1, 8]), jnp.zeros([DEVICES, 1, 8]))
    params = net.init(KEY, obs[0], resets[0], nets.LSTMState(state.hidden[0], state.cell[0]))
    replicated = jax.device_put_replicated(params, jax.local_devices()[:DEVICES])
    (logits, value), final = jax.pmap(net.apply)(replicated, obs, resets, state)
    assert logits.shape == (DEVICES, 2, 1, A) and value.shape == (DEVICES, 2, 1)
    (want_logits, _), _ = net.apply(params, obs[2], resets[2], nets.LSTMState(state.hidden[2], state.cell[2]))
    np.testing.assert_allclose(logits[2], want_logits, rtol=1e-5, atol=1e-5)

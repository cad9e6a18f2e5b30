"""Distributions (softmax, greedy, ε-greedy, Gaussian) and categorical helpers."""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vtrax import rl_ops
import rl_ops_reference as ref


def test_distribution_tuples_have_rlax_fields():
    assert rl_ops.softmax()._fields == ("sample", "probs", "logprob", "entropy", "kl")
    assert rl_ops.greedy().kl is None and rl_ops.epsilon_greedy(0.1).kl is None
    assert rl_ops.gaussian_diagonal()._fields == (
        "sample", "prob", "logprob", "entropy", "kl_to_standard_normal", "kl")


def test_softmax_with_temperature_hand_computed_all_modes():
    dist = rl_ops.softmax(temperature=2.0)
    logits = jnp.array([0.0, 2 * math.log(3.0)])  # logits / 2 = [0, ln 3] -> [.25, .75]
    ref.assert_all_modes(dist.probs, (logits,), [0.25, 0.75])
    ref.assert_all_modes(dist.logprob, (jnp.asarray(1), logits), math.log(0.75))
    ref.assert_all_modes(dist.entropy, (logits,), -(0.25 * math.log(0.25) + 0.75 * math.log(0.75)))
    # KL([.25, .75] || [.5, .5]) = .25 ln .5 + .75 ln 1.5
    ref.assert_all_modes(dist.kl, (logits, jnp.zeros(2)), 0.25 * math.log(0.5) + 0.75 * math.log(1.5))


def test_softmax_works_on_any_leading_shape():
    logits = jnp.zeros((2, 3, 4))
    np.testing.assert_allclose(rl_ops.softmax().logprob(jnp.zeros((2, 3), jnp.int32), logits),
                               np.full((2, 3), math.log(0.25)), rtol=1e-6)
    assert rl_ops.softmax().sample(jax.random.PRNGKey(0), logits).shape == (2, 3)


def test_greedy_splits_ties_evenly_all_modes():
    dist = rl_ops.greedy()
    prefs = jnp.array([1.0, 3.0, 3.0])
    ref.assert_all_modes(dist.probs, (prefs,), [0.0, 0.5, 0.5])
    ref.assert_all_modes(dist.entropy, (prefs,), math.log(2.0))
    ref.assert_all_modes(dist.logprob, (jnp.asarray(2), prefs), math.log(0.5))
    samples = jax.vmap(dist.sample, in_axes=(0, None))(jax.random.split(jax.random.PRNGKey(1), 200), prefs)
    assert set(np.unique(samples)) == {1, 2}


def test_epsilon_greedy_hand_computed_all_modes():
    dist = rl_ops.epsilon_greedy(0.3)
    prefs = jnp.array([1.0, 3.0, 2.0])
    probs = [0.1, 0.8, 0.1]
    ref.assert_all_modes(dist.probs, (prefs,), probs)
    ref.assert_all_modes(dist.logprob, (jnp.asarray(0), prefs), math.log(0.1))
    ref.assert_all_modes(dist.entropy, (prefs,), -sum(p * math.log(p) for p in probs))
    # epsilon can be given per call, e.g. from a schedule.
    np.testing.assert_allclose(rl_ops.epsilon_greedy().probs(prefs, epsilon=0.0), [0.0, 1.0, 0.0])


def test_epsilon_greedy_without_epsilon_explains_the_fix():
    with pytest.raises(ValueError, match=r"epsilon_greedy: epsilon is None; pass epsilon="):
        rl_ops.epsilon_greedy().probs(jnp.zeros(3))


def test_categorical_sample_frequencies_and_zero_probability_actions():
    probs = jnp.array([0.2, 0.0, 0.8])
    keys = jax.random.split(jax.random.PRNGKey(0), 4000)
    samples = np.asarray(jax.jit(jax.vmap(rl_ops.categorical_sample, in_axes=(0, None)))(keys, probs))
    assert not np.any(samples == 1)
    assert abs(np.mean(samples == 0) - 0.2) < 0.03
    # Unnormalised probabilities are normalised.
    samples = jax.vmap(rl_ops.categorical_sample, in_axes=(0, None))(keys[:500], jnp.array([0.0, 5.0]))
    assert np.all(np.asarray(samples) == 1)


def test_gaussian_diagonal_matches_closed_forms_all_modes():
    dist = rl_ops.gaussian_diagonal()
    mu = jnp.array([0.0, 1.0])
    sigma = jnp.array([1.0, 2.0])
    x = jnp.array([1.0, 0.0])
    logpdf = sum(-0.5 * ((xi - m) / s) ** 2 - math.log(s * math.sqrt(2 * math.pi))
                 for xi, m, s in zip([1.0, 0.0], [0.0, 1.0], [1.0, 2.0]))
    ref.assert_all_modes(dist.logprob, (x, mu, sigma), logpdf)
    ref.assert_all_modes(dist.prob, (x, mu, sigma), math.exp(logpdf))
    entropy = sum(0.5 * math.log(2 * math.pi * math.e * s ** 2) for s in [1.0, 2.0])
    ref.assert_all_modes(dist.entropy, (mu, sigma), entropy)
    # kl(mu_1, sigma_1, mu_0, sigma_0) = KL(N0 || N1), RLax's argument order; 1-D closed form.
    kl = math.log(2.0 / 1.0) + (1.0 + (0.0 - 1.0) ** 2) / (2 * 4.0) - 0.5
    ref.assert_all_modes(dist.kl, (jnp.array([1.0]), jnp.array([2.0]), jnp.array([0.0]), jnp.array([1.0])), kl)
    # KL to N(0, 1) of N([0, 1], [1, 2]²): 0 + .5 (4 + 1 - 1 - ln 4).
    ref.assert_all_modes(dist.kl_to_standard_normal, (mu, sigma), 0.5 * (4.0 + 1.0 - 1.0 - math.log(4.0)))


def test_gaussian_sample_statistics():
    dist = rl_ops.gaussian_diagonal(sigma=0.5)
    samples = jax.vmap(dist.sample, in_axes=(0, None))(
        jax.random.split(jax.random.PRNGKey(3), 4000), jnp.array([1.0, -2.0]))
    np.testing.assert_allclose(np.mean(samples, axis=0), [1.0, -2.0], atol=0.05)
    np.testing.assert_allclose(np.std(samples, axis=0), [0.5, 0.5], atol=0.05)


def test_categorical_kl_cross_entropy_and_ratios_all_modes():
    p_logits = jnp.array([0.0, math.log(3.0)])  # [.25, .75]
    ref.assert_all_modes(rl_ops.categorical_kl_divergence, (p_logits, p_logits), 0.0)
    ref.assert_all_modes(rl_ops.categorical_kl_divergence, (p_logits, jnp.zeros(2)),
                         0.25 * math.log(0.5) + 0.75 * math.log(1.5))
    ref.assert_all_modes(rl_ops.categorical_cross_entropy, (jnp.array([0.0, 1.0]), p_logits), -math.log(0.75))
    # π(a) / μ(a) with μ uniform: [.25 / .5, .75 / .5].
    ref.assert_all_modes(rl_ops.categorical_importance_sampling_ratios,
                         (jnp.stack([p_logits, p_logits]), jnp.zeros((2, 2)), jnp.array([0, 1])), [0.5, 1.5])


def test_categorical_kl_with_temperature():
    fn = functools.partial(rl_ops.categorical_kl_divergence, temperature=2.0)
    np.testing.assert_allclose(fn(jnp.array([0.0, 2 * math.log(3.0)]), jnp.zeros(2)),
                               0.25 * math.log(0.5) + 0.75 * math.log(1.5), rtol=1e-5)


def test_rejects_bad_inputs():
    with pytest.raises(ValueError, match=r"softmax.logprob: sample must have an integer dtype"):
        rl_ops.softmax().logprob(jnp.asarray(1.0), jnp.zeros(3))
    with pytest.raises(ValueError, match=r"softmax.probs: logits must have rank >= 1 \[..., A\], got shape \(\)"):
        rl_ops.softmax().probs(jnp.asarray(1.0))
    with pytest.raises(ValueError, match=r"categorical_cross_entropy: labels must have rank 1 \[A\], got shape "
                                         r"\(2, 2\)"):
        rl_ops.categorical_cross_entropy(jnp.ones((2, 2)), jnp.ones(2))
    with pytest.raises(ValueError, match=r"softmax.logprob: sample must have the leading shape of the "
                                         r"preferences, expected rank 1"):
        rl_ops.softmax().logprob(jnp.asarray(1), jnp.zeros((2, 3)))

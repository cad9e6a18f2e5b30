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
    # kl(mu_0, sigma_0, mu_1, sigma_1) = KL(N0 || N1), RLax 0.1.7's argument order; 1-D closed form.
    kl = math.log(2.0 / 1.0) + (1.0 + (0.0 - 1.0) ** 2) / (2 * 4.0) - 0.5
    ref.assert_all_modes(dist.kl, (jnp.array([0.0]), jnp.array([1.0]), jnp.array([1.0]), jnp.array([2.0])), kl)
    # KL to N(0, 1) of N([0, 1], [1, 2]²): 0 + .5 (4 + 1 - 1 - ln 4).
    ref.assert_all_modes(dist.kl_to_standard_normal, (mu, sigma), 0.5 * (4.0 + 1.0 - 1.0 - math.log(4.0)))


def test_gaussian_kl_terms_are_per_row_as_in_rlax_0_1_7():
    dist = rl_ops.gaussian_diagonal()
    mu = jnp.array([[0.0, 0.0], [1.0, -1.0], [0.0, 2.0]])  # [B=3, D=2]
    sigma = jnp.array([[1.0, 1.0], [1.0, 1.0], [2.0, 1.0]])
    expected = [0.0, 1.0, 0.5 * (4.0 - 1.0 - math.log(4.0)) + 2.0]  # 0.5 (v + mu^2 - 1 - ln v) summed over D
    np.testing.assert_allclose(dist.kl_to_standard_normal(mu, sigma), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(dist.kl(mu, sigma, jnp.zeros_like(mu), jnp.ones_like(mu)), expected, rtol=1e-6,
                               atol=1e-6)
    assert float(dist.kl(mu[1], 1.0, mu[0], 1.0)) == pytest.approx(1.0)  # 0.5 (1 + 1): symmetric in means


class _Spec:
    """A bounded action spec: what squashed_gaussian reads of one (`minimum`, `maximum`)."""

    def __init__(self, minimum, maximum):
        self.minimum, self.maximum = np.asarray(minimum, np.float32), np.asarray(maximum, np.float32)


def _squashed_base(mu, sigma, sigma_min=-4.0, sigma_max=0.0):
    return np.tanh(mu), np.exp(sigma_min + 0.5 * (sigma_max - sigma_min) * (np.tanh(sigma) + 1.0))


def _normal_logpdf(x, loc, scale):
    return np.sum(-0.5 * ((x - loc) / scale) ** 2 - np.log(scale * math.sqrt(2 * math.pi)), axis=-1)


def test_squashed_gaussian_logprob_has_the_tanh_change_of_variables_all_modes():
    dist = rl_ops.squashed_gaussian()
    mu, sigma = np.array([0.3, -0.2], np.float32), np.array([0.5, -1.0], np.float32)
    loc, scale = _squashed_base(mu, sigma)
    y = np.array([0.5, -0.25], np.float32)
    x = np.arctanh(y)
    expected = _normal_logpdf(x, loc, scale) - np.sum(np.log(1 - y ** 2))
    ref.assert_all_modes(lambda s, m, g: dist.logprob(s, m, g, None), (y, mu, sigma), expected, rtol=1e-5)
    # Bounds [-2, 2] x [0, 1]: y = low + (high - low) (tanh(x) + 1) / 2, |dy/dx| = (high - low) / 2 (1 - tanh^2).
    spec = _Spec([-2.0, 0.0], [2.0, 1.0])
    action = np.array([1.0, 0.4], np.float32)
    tanh_x = np.array([0.5, -0.2])
    expected = (_normal_logpdf(np.arctanh(tanh_x), loc, scale)
                - np.sum(np.log(np.array([2.0, 0.5]) * (1 - tanh_x ** 2))))
    ref.assert_all_modes(lambda s, m, g: dist.logprob(s, m, g, spec), (action, mu, sigma), expected, rtol=1e-5)
    np.testing.assert_allclose(dist.prob(action, mu, sigma, spec), np.exp(expected), rtol=1e-5)


def test_squashed_gaussian_density_integrates_to_one_and_samples_stay_in_bounds():
    dist = rl_ops.squashed_gaussian()
    grid = np.linspace(-0.9999, 0.9999, 200001, dtype=np.float64)[:, None].astype(np.float32)
    density = np.asarray(dist.prob(grid, jnp.full_like(grid, 0.4), jnp.full_like(grid, 0.8), None))
    assert np.trapz(density, grid[:, 0]) == pytest.approx(1.0, abs=2e-3)
    spec = _Spec([-2.0], [0.5])
    keys = jax.random.split(jax.random.PRNGKey(0), 2000)
    samples = np.asarray(jax.vmap(lambda k: dist.sample(k, jnp.zeros(1), jnp.ones(1), spec))(keys))
    assert samples.min() >= -2.0 and samples.max() <= 0.5
    loc, scale = _squashed_base(np.zeros(1), np.ones(1))
    key = jax.random.PRNGKey(7)  # the sample is the squashed base sample of the same key
    base_sample = loc + scale * np.asarray(jax.random.normal(key, (1,)))
    np.testing.assert_allclose(dist.sample(key, jnp.zeros(1), jnp.ones(1), None), np.tanh(base_sample), rtol=1e-5)


def test_squashed_gaussian_entropy_and_kls_are_those_of_the_base_gaussian():
    dist = rl_ops.squashed_gaussian(sigma_min=-2.0, sigma_max=1.0)
    mu_0, sigma_0 = np.array([0.1, 0.7], np.float32), np.array([0.0, 2.0], np.float32)
    mu_1, sigma_1 = np.array([-0.3, 0.2], np.float32), np.array([1.0, -1.0], np.float32)
    loc_0, scale_0 = _squashed_base(mu_0, sigma_0, -2.0, 1.0)
    loc_1, scale_1 = _squashed_base(mu_1, sigma_1, -2.0, 1.0)
    entropy = np.sum(0.5 * np.log(2 * math.pi * math.e * scale_0 ** 2))
    ref.assert_all_modes(dist.entropy, (mu_0, sigma_0), entropy, rtol=1e-5)
    kl = np.sum(np.log(scale_1 / scale_0) + (scale_0 ** 2 + (loc_0 - loc_1) ** 2) / (2 * scale_1 ** 2) - 0.5)
    ref.assert_all_modes(dist.kl, (mu_0, sigma_0, mu_1, sigma_1), kl, rtol=1e-5)
    to_standard = np.sum(0.5 * (scale_0 ** 2 + loc_0 ** 2 - 1 - np.log(scale_0 ** 2)))
    ref.assert_all_modes(dist.kl_to_standard_normal, (mu_0, sigma_0), to_standard, rtol=1e-5)


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

"""Action distributions as NamedTuples of pure functions, as in RLax.

A distribution is a tuple of functions over parameters with any leading
shape: `softmax().logprob(a_t, logits_t)` works on logits [A], [T, A] or
[B, T, A] with actions of the matching leading shape.

    DiscreteDistribution(sample, probs, logprob, entropy, kl)
    ContinuousDistribution(sample, prob, logprob, entropy, kl_to_standard_normal, kl)

`greedy()` and `epsilon_greedy()` have `kl=None`, as in RLax.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp

from vtrax.rl_ops import base
from vtrax.rl_ops.base import FLOAT, INT

Array = jax.Array


class DiscreteDistribution(NamedTuple):
    """Functions of a categorical distribution over actions [0, A)."""

    sample: Callable[..., Array]
    probs: Callable[..., Array]
    logprob: Callable[..., Array]
    entropy: Callable[..., Array]
    kl: Optional[Callable[..., Array]]


class ContinuousDistribution(NamedTuple):
    """Functions of a continuous distribution over real vectors."""

    sample: Callable[..., Array]
    prob: Callable[..., Array]
    logprob: Callable[..., Array]
    entropy: Callable[..., Array]
    kl_to_standard_normal: Callable[..., Array]
    kl: Callable[..., Array]


def _check_prefs(fn: str, name: str, prefs: Array) -> None:
    base.check_inputs(fn, **{name: (prefs, FLOAT, "[..., A]")})


def _check_sample(fn: str, sample: Array, prefs: Array) -> None:
    base.check_inputs(fn, sample=(sample, INT, "[...]"))
    if jnp.ndim(sample) != jnp.ndim(prefs) - 1:
        raise ValueError(
            f"{fn}: sample must have the leading shape of the preferences, expected rank "
            f"{jnp.ndim(prefs) - 1} for preferences shape {jnp.shape(prefs)}, got shape "
            f"{jnp.shape(sample)}")


def categorical_sample(key: Array, probs: Array) -> Array:
    """Samples an action index from probabilities [..., A] (need not be normalised).

    Actions with zero probability are never drawn.

    Returns:
      integer actions, shape [...].
    """
    base.check_inputs("categorical_sample", probs=(probs, FLOAT, "[..., A]"))
    probs = probs / jnp.sum(probs, axis=-1, keepdims=True)
    cdf = jnp.cumsum(probs, axis=-1)  # [..., A]
    eps = jnp.finfo(probs.dtype).eps
    u = jax.random.uniform(key, probs.shape[:-1] + (1,), dtype=probs.dtype, minval=eps)
    # First action whose cdf reaches u among those with non-zero probability.
    return jnp.argmin(jnp.logical_or(cdf < u, probs < eps), axis=-1)


def softmax(temperature: Any = 1.) -> DiscreteDistribution:
    """A softmax (Boltzmann) distribution over `logits / temperature`."""

    def sample_fn(key: Array, logits: Array) -> Array:
        _check_prefs("softmax.sample", "logits", logits)
        return jax.random.categorical(key, logits / temperature)

    def probs_fn(logits: Array) -> Array:
        _check_prefs("softmax.probs", "logits", logits)
        return jax.nn.softmax(logits / temperature)

    def logprob_fn(sample: Array, logits: Array) -> Array:
        _check_prefs("softmax.logprob", "logits", logits)
        _check_sample("softmax.logprob", sample, logits)
        return base.batched_index(jax.nn.log_softmax(logits / temperature), sample)

    def entropy_fn(logits: Array) -> Array:
        _check_prefs("softmax.entropy", "logits", logits)
        logprobs = jax.nn.log_softmax(logits / temperature)
        return -jnp.sum(jnp.exp(logprobs) * logprobs, axis=-1)

    def kl_fn(p_logits: Array, q_logits: Array) -> Array:
        return categorical_kl_divergence(p_logits, q_logits, temperature)

    return DiscreteDistribution(sample_fn, probs_fn, logprob_fn, entropy_fn, kl_fn)


def _argmax_with_random_tie_breaking(preferences: Array) -> Array:
    """Uniform probabilities over the maximising actions, [..., A]."""
    optimal = (preferences == jnp.max(preferences, axis=-1, keepdims=True)).astype(preferences.dtype)
    return optimal / jnp.sum(optimal, axis=-1, keepdims=True)


def _mix_with_uniform(probs: Array, epsilon: Any) -> Array:
    return (1 - epsilon) * probs + epsilon * jnp.ones_like(probs) / probs.shape[-1]


def _categorical_entropy(probs: Array) -> Array:
    return -jnp.nansum(probs * jnp.log(probs), axis=-1)  # 0 log 0 = 0.


def greedy() -> DiscreteDistribution:
    """The greedy distribution: uniform over the argmax actions; `kl` is None."""

    def sample_fn(key: Array, preferences: Array) -> Array:
        _check_prefs("greedy.sample", "preferences", preferences)
        return categorical_sample(key, _argmax_with_random_tie_breaking(preferences))

    def probs_fn(preferences: Array) -> Array:
        _check_prefs("greedy.probs", "preferences", preferences)
        return _argmax_with_random_tie_breaking(preferences)

    def logprob_fn(sample: Array, preferences: Array) -> Array:
        _check_prefs("greedy.logprob", "preferences", preferences)
        _check_sample("greedy.logprob", sample, preferences)
        return base.batched_index(jnp.log(_argmax_with_random_tie_breaking(preferences)), sample)

    def entropy_fn(preferences: Array) -> Array:
        _check_prefs("greedy.entropy", "preferences", preferences)
        return _categorical_entropy(_argmax_with_random_tie_breaking(preferences))

    return DiscreteDistribution(sample_fn, probs_fn, logprob_fn, entropy_fn, None)


def epsilon_greedy(epsilon: Any = None) -> DiscreteDistribution:
    """ε-greedy: greedy with probability 1 - ε, uniform with probability ε.

    `epsilon` given here is the default; each function also takes `epsilon=`
    so a schedule can pass a fresh value per call. `kl` is None.
    """

    def probs_fn(preferences: Array, epsilon: Any = epsilon) -> Array:
        _check_prefs("epsilon_greedy.probs", "preferences", preferences)
        if epsilon is None:
            raise ValueError("epsilon_greedy: epsilon is None; pass epsilon=0.05 (for example) "
                             "to epsilon_greedy() or to this call")
        return _mix_with_uniform(_argmax_with_random_tie_breaking(preferences), epsilon)

    def sample_fn(key: Array, preferences: Array, epsilon: Any = epsilon) -> Array:
        return categorical_sample(key, probs_fn(preferences, epsilon))

    def logprob_fn(sample: Array, preferences: Array, epsilon: Any = epsilon) -> Array:
        _check_sample("epsilon_greedy.logprob", sample, preferences)
        return base.batched_index(jnp.log(probs_fn(preferences, epsilon)), sample)

    def entropy_fn(preferences: Array, epsilon: Any = epsilon) -> Array:
        return _categorical_entropy(probs_fn(preferences, epsilon))

    return DiscreteDistribution(sample_fn, probs_fn, logprob_fn, entropy_fn, None)


def gaussian_diagonal(sigma: Any = None) -> ContinuousDistribution:
    """A Gaussian with diagonal covariance over the last axis of `mu` [..., D], as RLax 0.1.7.

    `sigma` (scalar or [..., D]) given here is the default for every function.
    Every function returns one value per row [...]: `kl_to_standard_normal(mu,
    sigma)` is KL(N(mu, sigma) || N(0, 1)) and `kl(mu_0, sigma_0, mu_1, sigma_1)`
    is KL(N(mu_0, sigma_0) || N(mu_1, sigma_1)), RLax 0.1.7's argument order.
    """

    def sample_fn(key: Array, mu: Array, sigma: Any = sigma) -> Array:
        _check_prefs("gaussian_diagonal.sample", "mu", mu)
        return mu + sigma * jax.random.normal(key, mu.shape, dtype=mu.dtype)

    def logprob_fn(sample: Array, mu: Array, sigma: Any = sigma) -> Array:
        _check_prefs("gaussian_diagonal.logprob", "mu", mu)
        return _normal_logprob(sample, mu, jnp.ones_like(mu) * sigma)

    def prob_fn(sample: Array, mu: Array, sigma: Any = sigma) -> Array:
        return jnp.exp(logprob_fn(sample, mu, sigma))

    def entropy_fn(mu: Array, sigma: Any = sigma) -> Array:
        _check_prefs("gaussian_diagonal.entropy", "mu", mu)
        return _normal_entropy(jnp.ones_like(mu) * sigma)

    def kl_to_standard_normal_fn(mu: Array, sigma: Any = sigma) -> Array:
        _check_prefs("gaussian_diagonal.kl_to_standard_normal", "mu", mu)
        return multivariate_normal_kl_divergence(mu, sigma, jnp.zeros_like(mu), 1.)

    def kl_fn(mu_0: Array, sigma_0: Any, mu_1: Array, sigma_1: Any) -> Array:
        return multivariate_normal_kl_divergence(mu_0, sigma_0, mu_1, sigma_1)

    return ContinuousDistribution(
        sample_fn, prob_fn, logprob_fn, entropy_fn, kl_to_standard_normal_fn, kl_fn)


def squashed_gaussian(sigma_min: float = -4., sigma_max: float = 0.) -> ContinuousDistribution:
    """A tanh-squashed diagonal Gaussian over the last axis [..., D], as RLax 0.1.7.

    The network's raw outputs are activated first: the base Gaussian has mean
    tanh(mu) and scale exp(sigma_min + (sigma_max - sigma_min) (tanh(sigma) + 1) / 2),
    so log-scales stay in [sigma_min, sigma_max]. Its samples x map to actions
    y = tanh(x), or with an `action_spec` (anything with `.minimum` and `.maximum`,
    [D] or scalar) to y = minimum + (maximum - minimum) (tanh(x) + 1) / 2.
    `logprob` includes the change of variables: log N(x) - sum log |dy/dx|.
    `entropy`, `kl_to_standard_normal` and `kl(mu_0, sigma_0, mu_1, sigma_1)` are
    those of the base (pre-squash) Gaussians, as in RLax. Soft Actor-Critic,
    Haarnoja et al. 2018 (https://arxiv.org/abs/1801.01290), appendix C.
    """

    def base(mu: Array, sigma: Array) -> tuple[Array, Array]:
        log_scale = sigma_min + 0.5 * (sigma_max - sigma_min) * (jnp.tanh(sigma) + 1.)
        return jnp.tanh(mu), jnp.exp(log_scale)

    def affine(action_spec) -> tuple[Any, Any]:
        if action_spec is None:
            return None, None
        scale = 0.5 * (jnp.asarray(action_spec.maximum) - jnp.asarray(action_spec.minimum))
        return jnp.asarray(action_spec.minimum), scale

    def sample_fn(key: Array, mu: Array, sigma: Array, action_spec) -> Array:
        _check_prefs("squashed_gaussian.sample", "mu", mu)
        loc, scale = base(mu, sigma)
        squashed = jnp.tanh(loc + scale * jax.random.normal(key, mu.shape, dtype=mu.dtype))
        low, half_range = affine(action_spec)
        return squashed if low is None else low + half_range * (squashed + 1.)

    def logprob_fn(sample: Array, mu: Array, sigma: Array, action_spec) -> Array:
        _check_prefs("squashed_gaussian.logprob", "mu", mu)
        loc, scale = base(mu, sigma)
        low, half_range = affine(action_spec)
        squashed = sample if low is None else (sample - low) / half_range - 1.
        x = jnp.arctanh(squashed)
        # log |d tanh(x) / dx| = log(1 - tanh(x)^2), written to stay finite for large |x|.
        log_det = 2. * (jnp.log(2.) - x - jax.nn.softplus(-2. * x))
        if low is not None:
            log_det = log_det + jnp.log(jnp.ones_like(x) * half_range)
        return _normal_logprob(x, loc, scale) - jnp.sum(log_det, axis=-1)

    def prob_fn(sample: Array, mu: Array, sigma: Array, action_spec) -> Array:
        return jnp.exp(logprob_fn(sample, mu, sigma, action_spec))

    def entropy_fn(mu: Array, sigma: Array) -> Array:
        _check_prefs("squashed_gaussian.entropy", "mu", mu)
        return _normal_entropy(base(mu, sigma)[1])

    def kl_to_standard_normal_fn(mu: Array, sigma: Array) -> Array:
        _check_prefs("squashed_gaussian.kl_to_standard_normal", "mu", mu)
        loc, scale = base(mu, sigma)
        return multivariate_normal_kl_divergence(loc, scale, jnp.zeros_like(mu), 1.)

    def kl_fn(mu_0: Array, sigma_0: Array, mu_1: Array, sigma_1: Array) -> Array:
        return multivariate_normal_kl_divergence(*base(mu_0, sigma_0), *base(mu_1, sigma_1))

    return ContinuousDistribution(
        sample_fn, prob_fn, logprob_fn, entropy_fn, kl_to_standard_normal_fn, kl_fn)


def _normal_logprob(x: Array, loc: Array, scale: Array) -> Array:
    """log N(x; loc, diag scale²) summed over the last axis [..., D] -> [...]."""
    log_z = jnp.sum(jnp.log(scale), axis=-1) + 0.5 * x.shape[-1] * jnp.log(2 * jnp.pi)
    return -0.5 * jnp.sum(((x - loc) / scale) ** 2, axis=-1) - log_z


def _normal_entropy(scale: Array) -> Array:
    """Entropy of a diagonal Gaussian with `scale` [..., D] -> [...]."""
    return jnp.sum(jnp.log(scale), axis=-1) + 0.5 * scale.shape[-1] * (1 + jnp.log(2 * jnp.pi))


def multivariate_normal_kl_divergence(mu_0: Array, sigma_0: Any, mu_1: Array, sigma_1: Any) -> Array:
    """KL(N(mu_0, diag sigma_0²) || N(mu_1, diag sigma_1²)) over the last axis [..., D].

    Variances are clipped to [1e-6, 1e6] for numerical safety.
    """
    base.check_inputs("multivariate_normal_kl_divergence",
                      mu_0=(mu_0, FLOAT, "[..., D]"), mu_1=(mu_1, FLOAT, "[..., D]"))
    v0 = jnp.clip(jnp.ones_like(mu_0) * sigma_0 ** 2, 1e-6, 1e6)
    v1 = jnp.clip(jnp.ones_like(mu_1) * sigma_1 ** 2, 1e-6, 1e6)
    per_dim = 0.5 * ((mu_1 - mu_0) ** 2 / v1 + v0 / v1 - 1. + jnp.log(v1) - jnp.log(v0))
    return jnp.sum(per_dim, axis=-1)


def categorical_kl_divergence(p_logits: Array, q_logits: Array, temperature: Any = 1.) -> Array:
    """KL(softmax(p_logits / τ) || softmax(q_logits / τ)) over the last axis [..., A].

    Clamped at 0 against rounding.
    """
    base.check_inputs("categorical_kl_divergence", p_logits=(p_logits, FLOAT, "[..., A]"),
                      q_logits=(q_logits, FLOAT, "[..., A]"))
    log_p = jax.nn.log_softmax(p_logits / temperature)
    log_q = jax.nn.log_softmax(q_logits / temperature)
    return jax.nn.relu(jnp.sum(jnp.exp(log_p) * (log_p - log_q), axis=-1))


def categorical_cross_entropy(labels: Array, logits: Array) -> Array:
    """Cross entropy `-Σ labels log softmax(logits)` of one distribution, shape [A] -> [].

    Args:
      labels: a probability vector, shape [A].
      logits: unnormalised log probabilities, shape [A].
    """
    base.check_inputs("categorical_cross_entropy", labels=(labels, FLOAT, "[A]"),
                      logits=(logits, FLOAT, "[A]"))
    return -jnp.sum(labels * jax.nn.log_softmax(logits))


def categorical_importance_sampling_ratios(pi_logits_t: Array, mu_logits_t: Array, a_t: Array) -> Array:
    """Importance ratios `π(a_t) / μ(a_t)` from target and behaviour logits.

    Args:
      pi_logits_t: target policy logits, shape [..., A].
      mu_logits_t: behaviour policy logits, shape [..., A].
      a_t: actions taken, integer shape [...].

    Returns:
      ratios, shape [...].
    """
    fn = "categorical_importance_sampling_ratios"
    base.check_inputs(fn, pi_logits_t=(pi_logits_t, FLOAT, "[..., A]"),
                      mu_logits_t=(mu_logits_t, FLOAT, "[..., A]"), a_t=(a_t, INT, "[...]"))
    base.check_equal_shapes(fn, pi_logits_t=pi_logits_t, mu_logits_t=mu_logits_t)
    log_pi_a_t = base.batched_index(jax.nn.log_softmax(pi_logits_t), a_t)
    log_mu_a_t = base.batched_index(jax.nn.log_softmax(mu_logits_t), a_t)
    return jnp.exp(log_pi_a_t - log_mu_a_t)

"""Every public op rejects a wrong rank or dtype with a ValueError naming the argument.

For each function, valid inputs are listed once; each array argument is then
broken in turn (two extra leading axes; int for float and float for int) and
the message must name the function, the argument, the expected rank and the
shape (or dtype) that arrived. Errors happen at trace time, before any
arithmetic, so the same holds under `jax.jit`.
"""

import re

import jax
import numpy as np
import pytest

from vtrax import rl_ops

T, A, N = 3, 2, 3


# NumPy inputs: the checks accept them, and building them compiles nothing.
def f(*shape):
    return np.ones(shape, np.float32)


def i(*shape):
    return np.zeros(shape, np.int32)


def _vtrace_args():
    return dict(v_tm1=f(T), v_t=f(T), r_t=f(T), discount_t=f(T), rho_tm1=f(T))


def _transition(**more):
    return dict(q_tm1=f(A), a_tm1=i(), r_t=f(), discount_t=f(), **more)


def _trajectory():
    return dict(r_t=f(T), discount_t=f(T))


# name -> (valid keyword arguments, whether ranks are fixed; False for ops on any leading shape)
CASES = {
    "vtrace": (_vtrace_args(), True),
    "leaky_vtrace": (_vtrace_args(), True),
    "vtrace_td_error_and_advantage": (dict(_vtrace_args(), lambda_=f()), True),
    "leaky_vtrace_td_error_and_advantage": (_vtrace_args(), True),
    "td_learning": (dict(v_tm1=f(), r_t=f(), discount_t=f(), v_t=f()), True),
    "td_lambda": (dict(v_tm1=f(T), r_t=f(T), discount_t=f(T), v_t=f(T), lambda_=f()), True),
    "sarsa": (_transition(q_t=f(A), a_t=i()), True),
    "expected_sarsa": (_transition(q_t=f(A), probs_a_t=f(A)), True),
    "q_learning": (_transition(q_t=f(A)), True),
    "double_q_learning": (_transition(q_t_value=f(A), q_t_selector=f(A)), True),
    "persistent_q_learning": (_transition(q_t=f(A), action_gap_scale=f()), True),
    "qv_learning": (_transition(v_t=f()), True),
    "qv_max": (dict(v_tm1=f(), r_t=f(), discount_t=f(), q_t=f(A)), True),
    "sarsa_lambda": (dict(q_tm1=f(T, A), a_tm1=i(T), r_t=f(T), discount_t=f(T), q_t=f(T, A), a_t=i(T),
                          lambda_=f()), True),
    "q_lambda": (dict(q_tm1=f(T, A), a_tm1=i(T), r_t=f(T), discount_t=f(T), q_t=f(T, A), lambda_=f()), True),
    "transformed_q_lambda": (dict(q_tm1=f(T, A), a_tm1=i(T), r_t=f(T), discount_t=f(T), q_t=f(T, A),
                                  lambda_=f()), True),
    "retrace": (dict(q_tm1=f(T, A), q_t=f(T, A), a_tm1=i(T), a_t=i(T), r_t=f(T), discount_t=f(T),
                     pi_t=f(T, A), mu_t=f(T), lambda_=f()), True),
    "transformed_retrace": (dict(q_tm1=f(T, A), q_t=f(T, A), a_tm1=i(T), a_t=i(T), r_t=f(T), discount_t=f(T),
                                 pi_t=f(T, A), mu_t=f(T), lambda_=f()), True),
    "transformed_n_step_q_learning": (dict(q_tm1=f(T, A), a_tm1=i(T), target_q_t=f(T, A), a_t=i(T), r_t=f(T),
                                           discount_t=f(T), n=2), True),
    "retrace_continuous": (dict(q_tm1=f(T), q_t=f(T - 1), v_t=f(T), r_t=f(T), discount_t=f(T),
                                log_rhos=f(T - 1), lambda_=f()), True),
    "categorical_l2_project": (dict(z_p=f(N), probs=f(N), z_q=f(N)), True),
    "categorical_td_learning": (dict(v_atoms_tm1=f(N), v_logits_tm1=f(N), r_t=f(), discount_t=f(),
                                     v_atoms_t=f(N), v_logits_t=f(N)), True),
    "categorical_q_learning": (dict(q_atoms_tm1=f(N), q_logits_tm1=f(A, N), a_tm1=i(), r_t=f(), discount_t=f(),
                                    q_atoms_t=f(N), q_logits_t=f(A, N)), True),
    "categorical_double_q_learning": (dict(q_atoms_tm1=f(N), q_logits_tm1=f(A, N), a_tm1=i(), r_t=f(),
                                           discount_t=f(), q_atoms_t=f(N), q_logits_t=f(A, N),
                                           q_t_selector=f(A)), True),
    "quantile_regression_loss": (dict(dist_src=f(N), tau_src=f(N), dist_target=f(N)), True),
    "quantile_q_learning": (dict(dist_q_tm1=f(N, A), tau_q_tm1=f(N), a_tm1=i(), r_t=f(), discount_t=f(),
                                 dist_q_t_selector=f(N, A), dist_q_t=f(N, A)), True),
    "quantile_expected_sarsa": (dict(dist_q_tm1=f(N, A), tau_q_tm1=f(N), a_tm1=i(), r_t=f(), discount_t=f(),
                                     dist_q_t=f(N, A), probs_a_t=f(A)), True),
    "lambda_returns": (dict(_trajectory(), v_t=f(T), lambda_=f()), True),
    "transformed_lambda_returns": (dict(_trajectory(), v_t=f(T), lambda_=f(), tx_pair=rl_ops.IDENTITY_PAIR),
                                   True),
    "n_step_bootstrapped_returns": (dict(_trajectory(), v_t=f(T), n=2, lambda_t=f()), True),
    "transformed_n_step_returns": (dict(_trajectory(), v_t=f(T), n=2, tx_pair=rl_ops.IDENTITY_PAIR), True),
    "discounted_returns": (dict(_trajectory(), v_t=f()), True),
    "importance_corrected_td_errors": (dict(_trajectory(), rho_tm1=f(T), lambda_=f(), values=f(T + 1)), True),
    "truncated_generalized_advantage_estimation": (dict(_trajectory(), lambda_=f(), values=f(T + 1)), True),
    "general_off_policy_returns_from_action_values": (dict(q_t=f(T, A), a_t=i(T), r_t=f(T), discount_t=f(T),
                                                           c_t=f(T), pi_t=f(T, A)), True),
    "transformed_general_off_policy_returns_from_action_values": (
        dict(q_t=f(T, A), a_t=i(T), r_t=f(T), discount_t=f(T), c_t=f(T), pi_t=f(T, A),
             tx_pair=rl_ops.IDENTITY_PAIR), True),
    "general_off_policy_returns_from_q_and_v": (dict(q_t=f(T - 1), v_t=f(T), r_t=f(T), discount_t=f(T),
                                                     c_t=f(T - 1)), True),
    "policy_gradient_loss": (dict(logits_t=f(T, A), a_t=i(T), adv_t=f(T), w_t=f(T)), True),
    "entropy_loss": (dict(logits_t=f(T, A), w_t=f(T)), True),
    "clipped_surrogate_pg_loss": (dict(prob_ratios_t=f(T), adv_t=f(T), epsilon=f()), True),
    "dpg_loss": (dict(a_t=f(A), dqda_t=f(A)), True),
    "qpg_loss": (dict(logits_t=f(T, A), q_t=f(T, A)), True),
    "rm_loss": (dict(logits_t=f(T, A), q_t=f(T, A)), True),
    "rpg_loss": (dict(logits_t=f(T, A), q_t=f(T, A)), True),
    "categorical_cross_entropy": (dict(labels=f(A), logits=f(A)), True),
    "clip_gradient": (dict(x=f(T), gradient_min=f(), gradient_max=f()), False),
    "categorical_kl_divergence": (dict(p_logits=f(A), q_logits=f(A)), False),
    "categorical_importance_sampling_ratios": (dict(pi_logits_t=f(T, A), mu_logits_t=f(T, A), a_t=i(T)), False),
    "multivariate_normal_kl_divergence": (dict(mu_0=f(A), sigma_0=1.0, mu_1=f(A), sigma_1=1.0), False),
    "categorical_sample": (dict(key=jax.random.PRNGKey(0), probs=f(A)), False),
    "huber_loss": (dict(x=f(T)), False),
    "l2_loss": (dict(predictions=f(T), targets=f(T)), False),
    "likelihood": (dict(predictions=f(T), targets=f(T)), False),
    "log_loss": (dict(predictions=f(T), targets=f(T)), False),
    "expectile_loss": (dict(predictions=f(T), targets=f(T), expectile=f()), False),
    "transform_to_2hot": (dict(scalar=f(T), min_value=0.0, max_value=1.0, num_bins=5), False),
    "transform_from_2hot": (dict(probs=f(T, 5), min_value=0.0, max_value=1.0, num_bins=5), False),
    **{name: (dict(x=f(T)), False) for name in (
        "identity", "sigmoid", "logit", "signed_logp1", "signed_expm1", "signed_hyperbolic", "signed_parabolic",
        "hyperbolic_sin", "hyperbolic_arcsin")},
    "power": (dict(x=f(T), p=2.0), False),
}


def _broken(kwargs):
    """(argument, bad value, message regex) for each array argument of a case."""
    for arg, value in kwargs.items():
        if not isinstance(value, np.ndarray):
            continue
        if np.issubdtype(value.dtype, np.integer):
            yield arg, value.astype(np.float32), rf"{arg} must have an integer dtype \(action indices\), got float32"
        else:
            yield arg, value.astype(np.int32), rf"{arg} must have a floating dtype, got int32; cast it with"


def test_every_public_function_with_array_inputs_is_covered():
    callables = {name for name in rl_ops.__all__ if callable(getattr(rl_ops, name))}
    not_array_ops = {"softmax", "epsilon_greedy", "greedy", "gaussian_diagonal", "squashed_gaussian",  # distribution factories
                     "one_hot", "batched_index", "lhs_broadcast", "replace_masked",  # helpers
                     "VTraceOutput", "TxPair", "DiscreteDistribution", "ContinuousDistribution"}
    assert callables - not_array_ops == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_dtype_raises_value_error_naming_the_argument(name):
    fn = getattr(rl_ops, name)
    kwargs, _ = CASES[name]
    for arg, bad, message in _broken(kwargs):
        with pytest.raises(ValueError, match=rf"^{re.escape(name)}: {message}"):
            fn(**dict(kwargs, **{arg: bad}))


@pytest.mark.parametrize("name", sorted(n for n, (_, ranked) in CASES.items() if ranked))
def test_bad_rank_raises_value_error_naming_argument_rank_and_shape(name):
    fn = getattr(rl_ops, name)
    kwargs, _ = CASES[name]
    for arg, value in kwargs.items():
        if not isinstance(value, np.ndarray):
            continue
        bad = value[None, None]
        shape = re.escape(str(tuple(bad.shape)))
        with pytest.raises(ValueError, match=rf"^{re.escape(name)}: {arg} must have rank \d .*\], got shape "
                                             rf"{shape}; one trajectory per call, batch with jax.vmap"):
            fn(**dict(kwargs, **{arg: bad}))


def test_checks_run_at_trace_time_under_jit():
    kwargs, _ = CASES["q_lambda"]
    bad = dict(kwargs, a_tm1=kwargs["a_tm1"].astype(np.float32))
    with pytest.raises(ValueError, match=r"^q_lambda: a_tm1 must have an integer dtype"):
        jax.jit(lambda kw: rl_ops.q_lambda(**kw))(bad)

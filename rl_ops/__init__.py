"""vtrax rl_ops: reinforcement-learning building blocks on JAX with RLax's API.

Same names, argument names and order, defaults and return types as RLax, so
`import rl_ops as rlax` is a drop-in switch for these functions. One
trajectory (or transition) per call; batch with `jax.vmap` at the call site.
Every op checks ranks and dtypes at trace time and raises a `ValueError`
naming the argument, the expected rank and the shape it got.
"""

from vtrax.rl_ops.base import batched_index
from vtrax.rl_ops.base import lhs_broadcast
from vtrax.rl_ops.base import one_hot
from vtrax.rl_ops.base import replace_masked
from vtrax.rl_ops.clipping import clip_gradient
from vtrax.rl_ops.clipping import expectile_loss
from vtrax.rl_ops.clipping import huber_loss
from vtrax.rl_ops.clipping import l2_loss
from vtrax.rl_ops.clipping import likelihood
from vtrax.rl_ops.clipping import log_loss
from vtrax.rl_ops.distributional import categorical_double_q_learning
from vtrax.rl_ops.distributional import categorical_l2_project
from vtrax.rl_ops.distributional import categorical_q_learning
from vtrax.rl_ops.distributional import categorical_td_learning
from vtrax.rl_ops.distributional import quantile_expected_sarsa
from vtrax.rl_ops.distributional import quantile_q_learning
from vtrax.rl_ops.distributional import quantile_regression_loss
from vtrax.rl_ops.distributions import categorical_cross_entropy
from vtrax.rl_ops.distributions import categorical_importance_sampling_ratios
from vtrax.rl_ops.distributions import categorical_kl_divergence
from vtrax.rl_ops.distributions import categorical_sample
from vtrax.rl_ops.distributions import ContinuousDistribution
from vtrax.rl_ops.distributions import DiscreteDistribution
from vtrax.rl_ops.distributions import epsilon_greedy
from vtrax.rl_ops.distributions import gaussian_diagonal, squashed_gaussian
from vtrax.rl_ops.distributions import greedy
from vtrax.rl_ops.distributions import multivariate_normal_kl_divergence
from vtrax.rl_ops.distributions import softmax
from vtrax.rl_ops.multistep import discounted_returns
from vtrax.rl_ops.multistep import general_off_policy_returns_from_action_values
from vtrax.rl_ops.multistep import general_off_policy_returns_from_q_and_v
from vtrax.rl_ops.multistep import importance_corrected_td_errors
from vtrax.rl_ops.multistep import lambda_returns
from vtrax.rl_ops.multistep import n_step_bootstrapped_returns
from vtrax.rl_ops.multistep import truncated_generalized_advantage_estimation
from vtrax.rl_ops.nonlinear_bellman import HYPERBOLIC_SIN_PAIR
from vtrax.rl_ops.nonlinear_bellman import IDENTITY_PAIR
from vtrax.rl_ops.nonlinear_bellman import SIGNED_HYPERBOLIC_PAIR
from vtrax.rl_ops.nonlinear_bellman import SIGNED_LOGP1_PAIR
from vtrax.rl_ops.nonlinear_bellman import transformed_general_off_policy_returns_from_action_values
from vtrax.rl_ops.nonlinear_bellman import transformed_lambda_returns
from vtrax.rl_ops.nonlinear_bellman import transformed_n_step_q_learning
from vtrax.rl_ops.nonlinear_bellman import transformed_n_step_returns
from vtrax.rl_ops.nonlinear_bellman import transformed_q_lambda
from vtrax.rl_ops.nonlinear_bellman import transformed_retrace
from vtrax.rl_ops.nonlinear_bellman import TxPair
from vtrax.rl_ops.policy_gradients import clipped_surrogate_pg_loss
from vtrax.rl_ops.policy_gradients import dpg_loss
from vtrax.rl_ops.policy_gradients import entropy_loss
from vtrax.rl_ops.policy_gradients import policy_gradient_loss
from vtrax.rl_ops.policy_gradients import qpg_loss
from vtrax.rl_ops.policy_gradients import rm_loss
from vtrax.rl_ops.policy_gradients import rpg_loss
from vtrax.rl_ops.transforms import hyperbolic_arcsin
from vtrax.rl_ops.transforms import hyperbolic_sin
from vtrax.rl_ops.transforms import identity
from vtrax.rl_ops.transforms import logit
from vtrax.rl_ops.transforms import power
from vtrax.rl_ops.transforms import sigmoid
from vtrax.rl_ops.transforms import signed_expm1
from vtrax.rl_ops.transforms import signed_hyperbolic
from vtrax.rl_ops.transforms import signed_logp1
from vtrax.rl_ops.transforms import signed_parabolic
from vtrax.rl_ops.transforms import transform_from_2hot
from vtrax.rl_ops.transforms import transform_to_2hot
from vtrax.rl_ops.value_learning import double_q_learning
from vtrax.rl_ops.value_learning import expected_sarsa
from vtrax.rl_ops.value_learning import persistent_q_learning
from vtrax.rl_ops.value_learning import q_lambda
from vtrax.rl_ops.value_learning import q_learning
from vtrax.rl_ops.value_learning import qv_learning
from vtrax.rl_ops.value_learning import qv_max
from vtrax.rl_ops.value_learning import retrace
from vtrax.rl_ops.value_learning import retrace_continuous
from vtrax.rl_ops.value_learning import sarsa
from vtrax.rl_ops.value_learning import sarsa_lambda
from vtrax.rl_ops.value_learning import td_lambda
from vtrax.rl_ops.value_learning import td_learning
from vtrax.rl_ops.vtrace import leaky_vtrace
from vtrax.rl_ops.vtrace import leaky_vtrace_td_error_and_advantage
from vtrax.rl_ops.vtrace import vtrace
from vtrax.rl_ops.vtrace import vtrace_td_error_and_advantage
from vtrax.rl_ops.vtrace import VTraceOutput

__all__ = (
    # V-trace
    "VTraceOutput",
    "vtrace",
    "leaky_vtrace",
    "vtrace_td_error_and_advantage",
    "leaky_vtrace_td_error_and_advantage",
    # Value learning
    "td_learning",
    "td_lambda",
    "sarsa",
    "expected_sarsa",
    "sarsa_lambda",
    "q_learning",
    "double_q_learning",
    "persistent_q_learning",
    "qv_learning",
    "qv_max",
    "q_lambda",
    "retrace",
    "retrace_continuous",
    # Distributional
    "categorical_l2_project",
    "categorical_td_learning",
    "categorical_q_learning",
    "categorical_double_q_learning",
    "quantile_regression_loss",
    "quantile_q_learning",
    "quantile_expected_sarsa",
    # Multistep
    "lambda_returns",
    "n_step_bootstrapped_returns",
    "discounted_returns",
    "importance_corrected_td_errors",
    "truncated_generalized_advantage_estimation",
    "general_off_policy_returns_from_action_values",
    "general_off_policy_returns_from_q_and_v",
    # Policy gradients
    "policy_gradient_loss",
    "entropy_loss",
    "clipped_surrogate_pg_loss",
    "dpg_loss",
    "qpg_loss",
    "rm_loss",
    "rpg_loss",
    # Distributions
    "DiscreteDistribution",
    "ContinuousDistribution",
    "softmax",
    "epsilon_greedy",
    "greedy",
    "gaussian_diagonal",
    "squashed_gaussian",
    "categorical_sample",
    "categorical_kl_divergence",
    "categorical_cross_entropy",
    "categorical_importance_sampling_ratios",
    "multivariate_normal_kl_divergence",
    # Losses and clipping
    "huber_loss",
    "l2_loss",
    "log_loss",
    "likelihood",
    "expectile_loss",
    "clip_gradient",
    # Value transforms
    "identity",
    "sigmoid",
    "logit",
    "signed_logp1",
    "signed_expm1",
    "signed_hyperbolic",
    "signed_parabolic",
    "hyperbolic_sin",
    "hyperbolic_arcsin",
    "power",
    "transform_to_2hot",
    "transform_from_2hot",
    # Non-linear Bellman
    "TxPair",
    "IDENTITY_PAIR",
    "SIGNED_LOGP1_PAIR",
    "SIGNED_HYPERBOLIC_PAIR",
    "HYPERBOLIC_SIN_PAIR",
    "transformed_lambda_returns",
    "transformed_n_step_returns",
    "transformed_general_off_policy_returns_from_action_values",
    "transformed_n_step_q_learning",
    "transformed_q_lambda",
    "transformed_retrace",
    # Helpers
    "one_hot",
    "batched_index",
    "lhs_broadcast",
    "replace_masked",
)

"""vtrax rl_ops: reinforcement-learning building blocks on JAX with RLax's API.

Same names, argument names and order, defaults and return types as RLax, so
`import rl_ops as rlax` is a drop-in switch for these functions. One
trajectory (or transition) per call; batch with `jax.vmap` at the call site.
Every op checks ranks and dtypes at trace time and raises a `ValueError`
naming the argument, the expected rank and the shape it got.
"""

from rl_ops.base import batched_index
from rl_ops.base import lhs_broadcast
from rl_ops.base import one_hot
from rl_ops.base import replace_masked
from rl_ops.clipping import clip_gradient
from rl_ops.clipping import expectile_loss
from rl_ops.clipping import huber_loss
from rl_ops.clipping import l2_loss
from rl_ops.clipping import likelihood
from rl_ops.clipping import log_loss
from rl_ops.distributional import categorical_double_q_learning
from rl_ops.distributional import categorical_l2_project
from rl_ops.distributional import categorical_q_learning
from rl_ops.distributional import categorical_td_learning
from rl_ops.distributional import quantile_expected_sarsa
from rl_ops.distributional import quantile_q_learning
from rl_ops.distributional import quantile_regression_loss
from rl_ops.distributions import categorical_cross_entropy
from rl_ops.distributions import categorical_importance_sampling_ratios
from rl_ops.distributions import categorical_kl_divergence
from rl_ops.distributions import categorical_sample
from rl_ops.distributions import ContinuousDistribution
from rl_ops.distributions import DiscreteDistribution
from rl_ops.distributions import epsilon_greedy
from rl_ops.distributions import gaussian_diagonal
from rl_ops.distributions import greedy
from rl_ops.distributions import multivariate_normal_kl_divergence
from rl_ops.distributions import softmax
from rl_ops.multistep import discounted_returns
from rl_ops.multistep import general_off_policy_returns_from_action_values
from rl_ops.multistep import general_off_policy_returns_from_q_and_v
from rl_ops.multistep import importance_corrected_td_errors
from rl_ops.multistep import lambda_returns
from rl_ops.multistep import n_step_bootstrapped_returns
from rl_ops.multistep import truncated_generalized_advantage_estimation
from rl_ops.nonlinear_bellman import HYPERBOLIC_SIN_PAIR
from rl_ops.nonlinear_bellman import IDENTITY_PAIR
from rl_ops.nonlinear_bellman import SIGNED_HYPERBOLIC_PAIR
from rl_ops.nonlinear_bellman import SIGNED_LOGP1_PAIR
from rl_ops.nonlinear_bellman import transformed_general_off_policy_returns_from_action_values
from rl_ops.nonlinear_bellman import transformed_lambda_returns
from rl_ops.nonlinear_bellman import transformed_n_step_q_learning
from rl_ops.nonlinear_bellman import transformed_n_step_returns
from rl_ops.nonlinear_bellman import transformed_q_lambda
from rl_ops.nonlinear_bellman import transformed_retrace
from rl_ops.nonlinear_bellman import TxPair
from rl_ops.policy_gradients import clipped_surrogate_pg_loss
from rl_ops.policy_gradients import dpg_loss
from rl_ops.policy_gradients import entropy_loss
from rl_ops.policy_gradients import policy_gradient_loss
from rl_ops.policy_gradients import qpg_loss
from rl_ops.policy_gradients import rm_loss
from rl_ops.policy_gradients import rpg_loss
from rl_ops.transforms import hyperbolic_arcsin
from rl_ops.transforms import hyperbolic_sin
from rl_ops.transforms import identity
from rl_ops.transforms import logit
from rl_ops.transforms import power
from rl_ops.transforms import sigmoid
from rl_ops.transforms import signed_expm1
from rl_ops.transforms import signed_hyperbolic
from rl_ops.transforms import signed_logp1
from rl_ops.transforms import signed_parabolic
from rl_ops.transforms import transform_from_2hot
from rl_ops.transforms import transform_to_2hot
from rl_ops.value_learning import double_q_learning
from rl_ops.value_learning import expected_sarsa
from rl_ops.value_learning import persistent_q_learning
from rl_ops.value_learning import q_lambda
from rl_ops.value_learning import q_learning
from rl_ops.value_learning import qv_learning
from rl_ops.value_learning import qv_max
from rl_ops.value_learning import retrace
from rl_ops.value_learning import retrace_continuous
from rl_ops.value_learning import sarsa
from rl_ops.value_learning import sarsa_lambda
from rl_ops.value_learning import td_lambda
from rl_ops.value_learning import td_learning
from rl_ops.vtrace import leaky_vtrace
from rl_ops.vtrace import leaky_vtrace_td_error_and_advantage
from rl_ops.vtrace import vtrace
from rl_ops.vtrace import vtrace_td_error_and_advantage
from rl_ops.vtrace import VTraceOutput

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

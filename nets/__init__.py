"""nets: a neural-network module library on JAX with Haiku's programming model.

Port a Haiku model by changing `import haiku as hk` to `import nets as hk`:
the class and function names, constructor arguments and parameter trees
(`{module_path: {name: array}}`) are Haiku's.
"""

from vtrax.nets import errors, initializers
from vtrax.nets.agents import ImpalaDeepTorso, ImpalaNet, ImpalaShallowTorso, PolicyValueMLP, RecurrentMLPNet
from vtrax.nets.base import current_name, get_parameter, get_state, running_init, set_state
from vtrax.nets.basic import BatchApply, Flatten, Sequential, dropout, one_hot
from vtrax.nets.conv import Conv2D
from vtrax.nets.dueling import DuelingMinAtar, DuelingMLP
from vtrax.nets.embed import Embed
from vtrax.nets.gaussian_head import GaussianPolicyMLP
from vtrax.nets.errors import (InvalidRNGKeyError, MissingParameterError, MissingRNGError, MissingStateError,
                               ModuleNameError, ModuleOutsideTransformError, ParameterShapeError, UnsupportedStateError)
from vtrax.nets.layer_norm import LayerNorm
from vtrax.nets.linear import Linear
from vtrax.nets.minatar_torso import MinAtarTorso
from vtrax.nets.mlp import MLP
from vtrax.nets.observation_norm import ObservationNorm
from vtrax.nets.module import Module
from vtrax.nets.pooling import AvgPool, MaxPool, avg_pool, max_pool
from vtrax.nets.recurrent import GRU, LSTM, LSTMState, ResetCore, RNNCore, dynamic_unroll, static_unroll
from vtrax.nets.rng import PRNGSequence, maybe_next_rng_key, next_rng_key, reserve_rng_keys
from vtrax.nets.scan import scan
from vtrax.nets.torsos import ResidualBlock
from vtrax.nets.transform import Transformed, TransformedWithState, transform, transform_with_state, without_apply_rng

__all__ = [
    # programming model
    "Module", "transform", "transform_with_state", "without_apply_rng", "Transformed", "TransformedWithState",
    "get_parameter", "get_state", "set_state", "next_rng_key", "maybe_next_rng_key", "reserve_rng_keys",
    "PRNGSequence", "running_init", "current_name", "scan",
    # layers
    "Linear", "MLP", "Sequential", "Conv2D", "max_pool", "avg_pool", "MaxPool", "AvgPool", "Flatten",
    "LayerNorm", "ObservationNorm", "Embed", "one_hot", "dropout", "BatchApply",
    # recurrent
    "RNNCore", "LSTM", "LSTMState", "GRU", "ResetCore", "dynamic_unroll", "static_unroll",
    # agent networks
    "PolicyValueMLP", "DuelingMLP", "DuelingMinAtar", "RecurrentMLPNet", "GaussianPolicyMLP", "ImpalaDeepTorso", "ImpalaShallowTorso",
    "ImpalaNet",
    "ResidualBlock", "MinAtarTorso",
    # submodules and errors
    "initializers", "errors", "ModuleOutsideTransformError", "MissingRNGError", "InvalidRNGKeyError",
    "ParameterShapeError", "MissingParameterError", "MissingStateError", "UnsupportedStateError",
    "ModuleNameError",
]

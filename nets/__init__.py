"""nets: a neural-network module library on JAX with Haiku's programming model.

Port a Haiku model by changing `import haiku as hk` to `import nets as hk`:
the class and function names, constructor arguments and parameter trees
(`{module_path: {name: array}}`) are Haiku's.
"""

from nets import errors, initializers
from nets.agents import ImpalaDeepTorso, ImpalaNet, ImpalaShallowTorso, PolicyValueMLP
from nets.base import current_name, get_parameter, get_state, running_init, set_state
from nets.basic import BatchApply, Flatten, Sequential, dropout, one_hot
from nets.conv import Conv2D
from nets.embed import Embed
from nets.errors import (InvalidRNGKeyError, MissingParameterError, MissingRNGError, MissingStateError,
                         ModuleNameError, ModuleOutsideTransformError, ParameterShapeError, UnsupportedStateError)
from nets.layer_norm import LayerNorm
from nets.linear import Linear
from nets.mlp import MLP
from nets.module import Module
from nets.pooling import AvgPool, MaxPool, avg_pool, max_pool
from nets.recurrent import GRU, LSTM, LSTMState, ResetCore, RNNCore, dynamic_unroll, static_unroll
from nets.rng import PRNGSequence, maybe_next_rng_key, next_rng_key, reserve_rng_keys
from nets.scan import scan
from nets.torsos import ResidualBlock
from nets.transform import Transformed, TransformedWithState, transform, transform_with_state, without_apply_rng

__all__ = [
    # programming model
    "Module", "transform", "transform_with_state", "without_apply_rng", "Transformed", "TransformedWithState",
    "get_parameter", "get_state", "set_state", "next_rng_key", "maybe_next_rng_key", "reserve_rng_keys",
    "PRNGSequence", "running_init", "current_name", "scan",
    # layers
    "Linear", "MLP", "Sequential", "Conv2D", "max_pool", "avg_pool", "MaxPool", "AvgPool", "Flatten",
    "LayerNorm", "Embed", "one_hot", "dropout", "BatchApply",
    # recurrent
    "RNNCore", "LSTM", "LSTMState", "GRU", "ResetCore", "dynamic_unroll", "static_unroll",
    # agent networks
    "PolicyValueMLP", "ImpalaDeepTorso", "ImpalaShallowTorso", "ImpalaNet", "ResidualBlock",
    # submodules and errors
    "initializers", "errors", "ModuleOutsideTransformError", "MissingRNGError", "InvalidRNGKeyError",
    "ParameterShapeError", "MissingParameterError", "MissingStateError", "UnsupportedStateError",
    "ModuleNameError",
]

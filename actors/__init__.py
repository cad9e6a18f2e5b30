"""vtrax actors: environments, vectorised stepping, the acting policy, the actor loop.

Environment construction imports no JAX, so the launcher can validate an env id
before anything heavy loads; the policy and actor load on first use.
"""

import importlib

from actors.environments import EnvSpec, env_spec, make_env
from actors.errors import EnvironmentSetupError
from actors.vector_env import VectorEnv, VectorStep

_LAZY = {
    "ActionChoice": "actors.policy", "make_select_action": "actors.policy",
    "make_recurrent_select_action": "actors.policy",
    "Actor": "actors.actor", "ActorConfig": "actors.actor", "Adder": "actors.actor",
    "ParameterSource": "actors.actor", "LocalParameterSource": "actors.param_source",
}

__all__ = ["EnvSpec", "EnvironmentSetupError", "VectorEnv", "VectorStep", "env_spec", "make_env", *_LAZY]


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'actors' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value

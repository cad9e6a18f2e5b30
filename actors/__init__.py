"""vtrax actors: environments, vectorised stepping, the acting policy, the actor loop.

Environment construction imports no JAX, so the launcher can validate an env id
before anything heavy loads; the policy and actor load on first use.
"""

from vtrax.actors.environments import EnvSpec, env_spec, make_env
from vtrax.actors.errors import EnvironmentSetupError
from vtrax.actors.vector_env import VectorEnv, VectorStep
from vtrax.replay.lazy_exports import lazy_exports

_LAZY = {
    "ActionChoice": "vtrax.actors.policy", "make_select_action": "vtrax.actors.policy",
    "make_recurrent_select_action": "vtrax.actors.policy",
    "apex_epsilons": "vtrax.actors.epsilon_greedy",
    "make_epsilon_greedy_select_action": "vtrax.actors.epsilon_greedy",
    "make_recurrent_epsilon_greedy_select_action": "vtrax.actors.epsilon_greedy", "NullAdder": "vtrax.actors.actor",
    "Actor": "vtrax.actors.actor", "ActorConfig": "vtrax.actors.actor", "Adder": "vtrax.actors.actor",
    "ParameterSource": "vtrax.actors.actor", "LocalParameterSource": "vtrax.actors.param_source",
}

__all__ = ["EnvSpec", "EnvironmentSetupError", "VectorEnv", "VectorStep", "env_spec", "make_env", *_LAZY]

__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)

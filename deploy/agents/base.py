"""`Agent`: the bundle an RL algorithm hands the one runtime (Acme's builder idea).

The runtime (driver, role workers, both launchers, checkpoints, metrics, eval
and serve) asks the agent for its parts and never branches on its name:

    Agent.make_network ──► learner, actors, evaluator (eval and serve rebuild it from its description)
    Agent.replay_table ──► the Reverb server's table (queue, or prioritised + rate limiter)
    Agent.make_adder ────► each acting actor's writer into that table
    Agent.make_policy ───► each acting actor's select_action (sampling, epsilon ladder, recurrent state)
    Agent.make_learner_core ► the learner's init/update/metrics (learner.LearnerCore)
    Agent.make_evaluator_policy ► a greedy actor writing nothing, whose returns are the run's (None: none)

The bundles live in deploy/ because assembling one touches every layer below
(learner, actors, replay); each layer keeps its own pure parts.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

PolicyFactory = Callable[[Any, Any, int, int], tuple[Callable[..., Any], Any]]
"""`(config, network, actor_index, num_actors) -> (select_action, initial_core_state or None)`."""


@dataclasses.dataclass(frozen=True)
class Agent:
    """One algorithm's parts; see the module docstring for who calls what."""

    name: str
    """The `--agent` value."""
    check: Callable[[Any, Any], None]
    """`check(config, env_spec)` raises ValueError (one sentence naming the fix) for a config it cannot run."""
    make_network: Callable[[Any, Any], Any]
    """`make_network(config, env_spec) -> learner.AgentNetwork`."""
    replay_table: Callable[[Any, Any], Any]
    """`replay_table(config, env_spec) -> replay.TableConfig`."""
    make_adder: Callable[[Any, Any, str], Any]
    """`make_adder(config, env_spec, replay_address) -> actors.Adder`."""
    make_policy: PolicyFactory
    """The acting actors' policy."""
    make_learner_core: Callable[[Any, Any, int], Any]
    """`make_learner_core(config, network, num_devices) -> learner.LearnerCore`."""
    make_evaluator_policy: PolicyFactory | None = None
    """The evaluator's policy; None: no evaluator, the acting actors' returns are the run's."""
    evaluator_num_envs: Callable[[Any], int] = lambda config: 0
    """Environments of the evaluator (0 without one)."""
    writes_priorities: Callable[[Any], bool] = lambda config: False
    """Whether the learner writes new priorities back to the table."""

    @property
    def has_evaluator(self) -> bool:
        return self.make_evaluator_policy is not None


def require_discrete_actions(agent: str, spec: Any) -> None:
    """Refuse a Box action space for a Q-learning agent (it picks actions by argmax over Q-values).

    Raises:
      ValueError: one sentence naming the fix.
    """
    if spec.is_multi_discrete:
        raise ValueError(f"--agent {agent} picks actions by argmax over the Q-values of one Discrete action, but "
                         f"{spec.env_id} has MultiDiscrete actions {list(spec.action_nvec)}; use --agent impala (one "
                         "softmax per dimension) or a Discrete-action environment such as CartPole-v1")
    if spec.is_continuous:
        raise ValueError(f"--agent {agent} picks actions by argmax over Q-values and needs a Discrete action space, but "
                         f"{spec.env_id} has continuous (Box) actions; use --agent impala (a Gaussian policy: "
                         "--preset classic-continuous) or a discrete-action environment such as CartPole-v1")

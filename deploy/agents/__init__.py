"""The agents `vtrax train --agent` runs: each one bundle (deploy/agents/base.py) for the one runtime."""

from __future__ import annotations

from vtrax.deploy.agents.base import Agent
from vtrax.deploy.agents.dqn import DQN
from vtrax.deploy.agents.impala import IMPALA
from vtrax.deploy.agents.r2d2 import R2D2

AGENTS = {agent.name: agent for agent in (IMPALA, DQN, R2D2)}

__all__ = ["AGENTS", "Agent", "get_agent"]


def get_agent(name: str) -> Agent:
    """The agent named `name`; ValueError naming the choices otherwise."""
    try:
        return AGENTS[name]
    except KeyError:
        raise ValueError(f"unknown agent {name!r}; pass --agent one of {sorted(AGENTS)}") from None

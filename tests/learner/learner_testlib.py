"""Shared pieces for the learner tests: a tabular network and small on-policy problems.

The tabular network is a real `AgentNetwork` (pure init/apply) whose logits and
values are rows of two parameter tables picked by a one-hot observation, so
hand computations can read them off directly.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from vtrax import learner


def tabular_network(num_states: int, num_actions: int) -> learner.AgentNetwork:
    """Observations are one-hot states [..., S]; logits = obs @ L [S, A]; value = obs @ v [S]."""

    def init(rng, observation):
        logits_key, value_key = jax.random.split(rng)
        return {"table": {"logits": 0.5 * jax.random.normal(logits_key, (num_states, num_actions)),
                          "values": jax.random.normal(value_key, (num_states,))}}

    def apply(params, observation, should_reset=None, core_state=None):
        return observation @ params["table"]["logits"], observation @ params["table"]["values"]

    return learner.AgentNetwork(
        init=init, apply=apply, unroll=lambda *args: (apply(*args[:2]), None), initial_state=lambda size: None,
        num_actions=num_actions, is_recurrent=False, kind="tabular",
        description={"kind": "tabular", "num_states": num_states, "num_actions": num_actions})


class ChainEnvs:
    """`num_envs` copies of a chain MDP with auto-reset, stepped together.

    States 0..length-1; action 1 moves right, action 0 moves left (floored at
    0). Moving into the last state pays reward 1 and ends the episode; the next
    observation is state 0 again. The optimal policy always moves right and
    V*(s) = gamma ** (length - 2 - s).
    """

    def __init__(self, num_envs: int, length: int, seed: int = 0):
        self.length = length
        self.states = np.zeros(num_envs, np.int64)
        self.rng = np.random.default_rng(seed)

    def observation(self) -> np.ndarray:
        return np.eye(self.length - 1, dtype=np.float32)[self.states]  # [N, S]

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        moved = np.where(actions == 1, self.states + 1, np.maximum(self.states - 1, 0))
        done = moved == self.length - 1
        self.states = np.where(done, 0, moved)
        return done.astype(np.float32), (~done).astype(np.float32)  # reward, discount


class TwoArmedBandits(ChainEnvs):
    """`num_envs` two-armed bandits: one state, arm 1 pays 1, arm 0 pays 0, every pull ends the episode."""

    def __init__(self, num_envs: int, seed: int = 0):
        super().__init__(num_envs, length=2, seed=seed)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (actions == 1).astype(np.float32), np.zeros(actions.shape, np.float32)


def on_policy_batches(envs: ChainEnvs, network: learner.AgentNetwork, config: learner.LearnerConfig,
                      latest: dict, *, num_devices: int = 1):
    """Yields replay-format batches collected with the newest published params in `latest`.

    Items overlap by one step, as the replay adder writes them.
    """
    policy = jax.jit(lambda params, obs: network.apply(params, obs[None])[0][0])  # [N, A]
    unroll_length = config.unroll_length
    num_envs = envs.states.shape[0]
    carry = None
    while True:
        steps = [carry] if carry is not None else []
        while len(steps) < unroll_length + 1:
            observation = envs.observation()
            logits = np.asarray(policy(latest["params"], observation))
            probs = np.exp(logits - logits.max(-1, keepdims=True))
            probs /= probs.sum(-1, keepdims=True)
            actions = (envs.rng.random(num_envs) < probs[:, 1]).astype(np.int32)
            reward, discount = envs.step(actions)
            steps.append(dict(observation=observation, action=actions, reward=reward, discount=discount,
                              valid=np.ones(num_envs, bool),
                              behaviour_logits=logits, param_version=np.full(num_envs, latest["version"], np.int32)))
        carry = steps[-1]
        batch = {key: np.stack([step[key] for step in steps], axis=1) for key in steps[0]}  # [N, T+1, ...]
        yield {key: value.reshape((num_devices, num_envs // num_devices) + value.shape[1:])
               for key, value in batch.items()}


def policy_and_values(network, params, num_states):
    """pi(right | s) [S] and V(s) [S] for every chain state."""
    logits, values = network.apply(params, jnp.eye(num_states, dtype=jnp.float32))
    return np.asarray(jax.nn.softmax(logits)[:, 1]), np.asarray(values)

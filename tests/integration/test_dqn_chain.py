"""The whole DQN stack learns Q* of a chain whose optimal values are known in closed form.

Actors (Ape-X epsilon ladder) -> n-step adder -> prioritised Reverb table with a
samples-per-insert limiter -> pmapped double-Q learner with importance weights and
priorities written back -> final checkpoint, run by the driver with the local
launcher (what `vtrax train --agent dqn --launcher local` runs). The Q values are
read from the final checkpoint as `vtrax eval` reads them.

The chain: states 0 .. N-1, observed one-hot; action 0 moves left (state 0 stays),
action 1 moves right, and moving right from the last state pays 1 and terminates.
Episodes start in a uniformly random state (so every state is visited) and are
truncated after `MAX_EPISODE_STEPS`, which the bootstrap from the final observation
makes harmless to Q*. With discount g:

    V*(s)          = g^(N-1-s)
    Q*(s, right)   = g^(N-1-s)
    Q*(s, left)    = g V*(max(s-1, 0))
"""

import dataclasses
import json
import signal
import time

import gymnasium as gym
import numpy as np

from vtrax.deploy.agents import get_agent
from vtrax.deploy.config import TrainConfig
from vtrax.deploy.runtime.display import Display
from vtrax.deploy.runtime.driver import Driver
from vtrax.learner import LearnerConfig, load_params
from vtrax.learner.dqn_config import DQNConfig

CHAIN_ID, NUM_STATES, DISCOUNT, MAX_EPISODE_STEPS = "VtraxTestChain-v0", 5, 0.9, 12
LEFT, RIGHT = 0, 1


class ChainEnv(gym.Env):
    """Observation float32 one-hot [NUM_STATES]; Discrete(2): 0 = left, 1 = right (see module docstring)."""

    def __init__(self):
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(NUM_STATES,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self._state = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._state = int(self.np_random.integers(NUM_STATES))
        return self._observation(), {}

    def step(self, action):
        if int(action) == RIGHT and self._state == NUM_STATES - 1:
            return self._observation(), 1.0, True, False, {}
        self._state = min(self._state + 1, NUM_STATES - 1) if int(action) == RIGHT else max(self._state - 1, 0)
        return self._observation(), 0.0, False, False, {}

    def _observation(self):
        return np.eye(NUM_STATES, dtype=np.float32)[self._state]


def q_star() -> np.ndarray:
    """[NUM_STATES, 2] optimal action values of the chain (module docstring)."""
    states = np.arange(NUM_STATES)
    value = DISCOUNT ** (NUM_STATES - 1 - states)
    return np.stack([DISCOUNT * value[np.maximum(states - 1, 0)], value], axis=-1)


def _config() -> TrainConfig:
    # n_step=1: with n > 1 the uncorrected n-step return of the epsilon-greedy actors would be learnt, not Q*.
    # samples_per_insert ties learner updates to env frames: 8 items sampled per item of 8 transitions inserted,
    # batches of 32 transitions (4 items): about 2 updates per vector step, ~1000 updates over the run whatever the
    # machine's speed (the limiter blocks whichever side runs ahead).
    return TrainConfig(
        agent="dqn", env_id=CHAIN_ID, network="dueling_mlp", hidden_sizes=(32,), launcher="local", num_actors=1,
        num_envs_per_actor=8, max_env_frames=4_000, max_seconds=120.0, target_return=None, stall_timeout_s=0.0,
        report_period_s=0.25, seed=0,
        learner=LearnerConfig(batch_size=32, unroll_length=4, discount=DISCOUNT, learning_rate=3e-3,
                              optimizer="adam", max_gradient_norm=10.0, entropy_cost=0.0, baseline_cost=0.0,
                              checkpoint_period_s=600.0),
        dqn=DQNConfig(n_step=1, target_update_period_updates=50, samples_per_insert=8.0, min_replay_size=20,
                      max_replay_size=2_000, evaluator_num_envs=1))


def _run(config: TrainConfig, run_dir) -> tuple[Driver, dict, float]:
    """Run `config` in this process as `vtrax train --launcher local` does: (driver, summary, shutdown seconds)."""
    if CHAIN_ID not in gym.registry:
        gym.register(CHAIN_ID, entry_point=ChainEnv, max_episode_steps=MAX_EPISODE_STEPS)
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        driver = Driver(config, run_dir, resume=False, start_time=time.monotonic(), display=Display(quiet=True))
        summary = driver.run()
        return driver, summary, time.monotonic() - driver.loop_end
    finally:  # the driver installs its own Ctrl-C/SIGTERM handlers; give pytest its own back
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


def test_dqn_learns_q_star_of_a_chain(tmp_path):
    config = _config()
    driver, summary, _ = _run(config, tmp_path)
    assert summary["stopped_because"] == "max_env_frames", summary
    assert summary["final_checkpoint"] and summary["learner_updates"] >= 500, summary

    network = get_agent("dqn").make_network(config, driver.spec)
    params = load_params(str(tmp_path / "checkpoints"))  # as `vtrax eval` and `vtrax serve` read them
    q_values, _ = network.apply(params, np.eye(NUM_STATES, dtype=np.float32)[None])  # [1, N, 2]
    # Seen errors are ~1e-4 (the data covers every state and action); 0.03 is a third of the smallest gap
    # between two Q* values (g^4 - g^5 = 0.066), so a wrong discount, bootstrap or target fails it.
    np.testing.assert_allclose(np.asarray(q_values[0]), q_star(), atol=0.03)


def test_a_run_whose_learner_lags_far_behind_shuts_down_promptly(tmp_path):
    """Actors that the samples-per-insert limiter holds (4096 samples per insert, 1024 updates: the learner
    cannot keep up) wait inside their adder's append; stopping the run must not wait for them to get through."""
    base = _config()
    config = dataclasses.replace(
        base, num_actors=2, max_env_frames=0, max_seconds=12.0,
        dqn=dataclasses.replace(base.dqn, samples_per_insert=4096.0, samples_per_insert_tolerance=4096.0))
    _, summary, shutdown_s = _run(config, tmp_path)
    assert summary["stopped_because"] == "max_seconds" and summary["final_checkpoint"], summary
    # The limiter held the actors: inserts stayed ahead of the ratio by more than its offset (r * min size), so
    # only the error buffer let the last ones in and the next insert had to wait.
    last = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
    ratio, min_size = config.dqn.samples_per_insert, config.dqn.min_replay_size
    assert last["replay_inserts"] * ratio - last["replay_samples"] > ratio * min_size, last
    # Seen: 2.6-4.5 s (a 1 s stop grace, the adder's 1 s final flush, the learner's final checkpoint). Before the
    # adder was closed under a blocked actor, each actor sat out its 10 s join timeout, one after another.
    assert shutdown_s < 8.0, shutdown_s

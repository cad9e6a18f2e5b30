"""Agents as bundles: the --agent choices, per-agent presets, and bad agent/environment pairs refused in one sentence."""

import dataclasses

import pytest

from vtrax.deploy.agents import AGENTS, get_agent
from vtrax.deploy.config import AGENT_NAMES, TrainConfig, preset
from vtrax.deploy.runtime.driver import Driver, TrainingError


def test_every_agent_name_has_a_bundle_and_a_cartpole_preset():
    assert sorted(AGENTS) == sorted(AGENT_NAMES)
    for name in AGENT_NAMES:
        assert preset("cartpole", agent=name).agent == name
    assert preset("cartpole").network == "mlp" and preset("cartpole", agent="dqn").network == "dueling_mlp"
    assert preset("cartpole", agent="r2d2").use_lstm
    assert get_agent("dqn").has_evaluator and get_agent("r2d2").has_evaluator and not get_agent("impala").has_evaluator


def test_unknown_agents_and_presets_name_the_choices():
    with pytest.raises(ValueError, match=r"agent must be one of \('impala', 'dqn', 'r2d2'\), got 'sac'; pass e.g. --agent"):
        TrainConfig(agent="sac")
    with pytest.raises(ValueError, match=r"unknown preset 'atari' for agent 'dqn'; choose one of \['cartpole', "
                                         r"'minatar'\]"):
        preset("atari", agent="dqn")


def test_config_round_trips_with_the_dqn_fields():
    config = dataclasses.replace(preset("cartpole", agent="dqn"), seed=4)
    assert TrainConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize("changes, words", [
    (dict(use_lstm=True), "--agent dqn has a feed-forward Q network; drop --use-lstm, or use --agent r2d2"),
    (dict(network="mlp"), "--agent dqn trains a dueling Q network: --network dueling_mlp on vector observations"),
    (dict(network="dueling_minatar"), "dueling_minatar on MinAtar grids ([10, 10, C], --preset minatar); "
                                      "CartPole-v1 gives shape (4,) and the network is 'dueling_minatar'"),
    (dict(env_id="Pendulum-v1"), "--agent dqn picks actions by argmax over Q-values and needs a Discrete action "
                                 "space, but Pendulum-v1 has continuous (Box) actions; use --agent impala"),
    (dict(env_id="Pendulum-v1", agent="r2d2", network="mlp", use_lstm=True), "--agent r2d2 picks actions by argmax"),
    (dict(agent="impala"), "network 'dueling_mlp' is a Q network and IMPALA needs policy logits; pass --network mlp"),
    (dict(agent="r2d2"), "--agent r2d2 trains an LSTM Q network: pass --use-lstm true with --network mlp on vector "
                         "observations (--preset cartpole) or --network minatar on MinAtar grids"),
])
def test_a_mismatched_agent_is_refused_before_anything_starts(tmp_path, changes, words):
    from vtrax.actors import EnvironmentSetupError

    config = dataclasses.replace(preset("cartpole", agent="dqn"), **changes)
    driver = Driver(config, tmp_path, resume=False, start_time=0.0, display=None)
    with pytest.raises((TrainingError, EnvironmentSetupError)) as info:
        driver.start()
    assert words in str(info.value) and str(info.value).count(". ") == 0
    assert driver.replay_address is None  # nothing was started

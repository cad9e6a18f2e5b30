"""The driver's bookkeeping of actor stats: restarts, per-stage time, the display block."""

import dataclasses
from pathlib import Path

from vtrax.deploy.config import preset
from vtrax.deploy.runtime.display import format_block
from vtrax.deploy.runtime.driver import Driver, _ActorBook
from vtrax.deploy.runtime.report import GAUGES, RunReport, summary_fields


def _stats(pid, frames, unrolls, inference_s, errors=0):
    return {"pid": pid, "env_frames": frames, "env_errors": errors, "unrolls": unrolls, "param_version": 3,
            "seconds": {"env": 2 * inference_s, "inference": inference_s, "adder": 0.5, "params": 0.0}}


def test_counters_carry_over_an_actor_restart():
    book = _ActorBook()
    book.update(_stats(pid=10, frames=1000, unrolls=5, inference_s=1.0, errors=1))
    book.update(_stats(pid=11, frames=200, unrolls=1, inference_s=0.25))  # restarted: counters began again
    assert book.restarts == 1
    assert book.frames == 1200 and book.errors == 1
    assert book.total("unrolls") == 6 and book.total("seconds_inference") == 1.25


def test_ms_per_step_is_over_the_last_period(tmp_path: Path):
    config = preset("cartpole")
    driver = Driver(config, tmp_path, resume=False, start_time=0.0, display=None)
    driver.books = [_ActorBook()]
    driver.books[0].update(_stats(pid=1, frames=0, unrolls=10, inference_s=2.0))
    first = driver._actor_ms_per_step()
    steps = 10 * config.unroll_length
    assert abs(first["inference"] - 1000 * 2.0 / steps) < 1e-9
    assert abs(first["env"] - 1000 * 4.0 / steps) < 1e-9
    driver.books[0].update(_stats(pid=1, frames=0, unrolls=20, inference_s=2.5))
    second = driver._actor_ms_per_step()
    assert abs(second["inference"] - 1000 * 0.5 / steps) < 1e-9
    assert driver._actor_ms_per_step() == {}  # no new unrolls: nothing to average


REPORT = RunReport(env_id="CartPole-v1", wall_seconds=3.0, num_actors=1, env_frames=1000, frames_per_second=500.0,
                   learner_updates=2, updates_per_second=1.0, episode_return_mean_last100=20.0,
                   best_episode_return_mean_last100=21.0, episodes=5, policy_lag=1.0, replay_queue_size=0,
                   loss={"total": 1.0}, actor_ms_per_step={"env": 0.5, "inference": 0.25},
                   episode_length_mean_last100=20.0, grad_norm=0.5)


def test_display_block_shows_actor_stages_and_episode_length():
    text = "\n".join(format_block(REPORT))
    assert "inference 0.250" in text and "env 0.500" in text and "episode length    20.00" in text


def test_lstm_config_validates_and_shapes_the_stored_core_state():
    import pytest

    from vtrax.deploy.config import TrainConfig, core_state_shapes, network_options

    with pytest.raises(ValueError, match="lstm_size must be >= 1"):
        TrainConfig(network="mlp", use_lstm=True, lstm_size=0)
    config = dataclasses.replace(preset("atari"), network="impala_shallow", use_lstm=True, lstm_size=16)
    assert core_state_shapes(config) == {"hidden": (16,), "cell": (16,)}
    assert network_options(config) == {"use_lstm": True, "lstm_size": 16, "prev_action_reward": True}
    assert core_state_shapes(preset("cartpole")) is None
    assert TrainConfig.from_dict(config.to_dict()) == config
    cartpole_lstm = dataclasses.replace(preset("cartpole"), use_lstm=True)  # an LSTM on the MLP torso
    assert core_state_shapes(cartpole_lstm) == {"hidden": (64,), "cell": (64,)}
    assert network_options(cartpole_lstm) == {"hidden_sizes": (64, 64), "use_lstm": True, "lstm_size": 64,
                                              "prev_action_reward": True}


def test_every_network_and_lstm_combination_runs_or_is_refused_naming_one_that_works():
    import pytest

    from vtrax.deploy.config import check_fits

    for network in ("mlp", "impala_deep", "impala_shallow", "minatar"):
        for use_lstm in (False, True):
            for shape in ((4,), (84, 84, 4), (10, 10, 4)):
                config = dataclasses.replace(preset("cartpole"), network=network, use_lstm=use_lstm)
                if (network == "mlp") == (len(shape) == 1):
                    check_fits(config, shape)
                    continue
                with pytest.raises(ValueError, match="with or without --use-lstm") as info:
                    check_fits(config, shape)
                assert str(info.value).count(";") == 1 and "\n" not in str(info.value)
    minatar_on_mlp = dataclasses.replace(preset("cartpole"), env_id="MinAtar/Breakout-v1")
    with pytest.raises(ValueError, match=r"gives shape \(10, 10, 4\); pass --preset minatar \(or --network minatar\)"):
        check_fits(minatar_on_mlp, (10, 10, 4))


def test_every_renderer_reads_the_one_report(tmp_path: Path):
    """metrics.jsonl, `vtrax status`, Prometheus and summary.json all render the same RunReport."""
    import json

    from vtrax.deploy.commands.status import format_status
    from vtrax.deploy.runtime.run_dir import RunWriter

    writer = RunWriter(tmp_path)
    writer.write(REPORT.to_dict())
    writer.close()
    line = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[0])
    assert RunReport.from_dict(line) == REPORT
    assert RunReport.from_dict({**line, "reported_at": 1.0}) == REPORT  # what `vtrax status` receives
    assert "1,000" in format_status(REPORT, "auto")[1]
    assert {gauge.field for gauge in GAUGES} <= set(line) and all(gauge.name.startswith("vtrax_") for gauge in GAUGES)
    assert summary_fields(REPORT)["env_frames"] == 1000 and summary_fields(REPORT)["env_id"] == "CartPole-v1"


def test_the_driver_reports_before_the_first_period(tmp_path: Path):
    driver = Driver(preset("cartpole"), tmp_path, resume=False, start_time=0.0, display=None)
    summary = driver.summary(checkpoint=None)  # a run stopped before its first report still has a summary
    assert summary["env_frames"] == 0 and summary["learner_updates"] == 0 and summary["episode_return_mean_last100"] is None

"""`vtrax bench learner`: one JSON object with the documented keys (numbers are not asserted: no timing in tests)."""

import argparse
import json

import pytest

from vtrax.deploy.bench import learner as bench_learner


def _run(capsys, *argv):
    parser = argparse.ArgumentParser()
    bench_learner.add_arguments(parser)
    assert bench_learner.run(parser.parse_args(list(argv))) == 0
    return capsys.readouterr().out


def test_json_output_has_the_documented_fields(capsys):
    out = _run(capsys, "--json", "--calls", "2", "--warmup", "1", "--num-devices", "4")
    result = json.loads(out)  # exactly one JSON object
    for key in ("updates_per_second", "frames_per_second", "devices", "batch_size", "unroll_length"):
        assert key in result
    assert len(result["devices"]) == 4 and result["mode"] == "pmap"
    assert (result["batch_size"], result["unroll_length"]) == (32, 20)
    assert result["frames_per_second"] == pytest.approx(result["updates_per_second"] * 32 * 20)


def test_table_output_on_one_device(capsys):
    out = _run(capsys, "--calls", "2", "--warmup", "1", "--num-devices", "1", "--batch-size", "8")
    assert "frames/s" in out and "jit" in out and "8 x 20" in out


@pytest.mark.parametrize("agent, steps, transitions_per_update", [("dqn", 1, 64), ("r2d2", 21, 32 * 16)])
def test_q_agents_time_their_learner_core_over_the_devices(capsys, agent, steps, transitions_per_update):
    result = json.loads(_run(capsys, "--agent", agent, "--json", "--calls", "2", "--warmup", "1", "--num-devices", "4"))
    assert result["agent"] == agent and len(result["devices"]) == 4 and result["steps_per_item"] == steps
    assert result["transitions_per_second"] == pytest.approx(result["updates_per_second"] * transitions_per_update)


def test_q_agents_refuse_the_atari_preset():
    with pytest.raises(SystemExit, match="--agent dqn has a CartPole preset only"):
        bench_learner.run(argparse.Namespace(agent="dqn", preset="atari", cpu_affinity=None))

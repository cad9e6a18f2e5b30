"""`vtrax bench nets` (deploy/bench/nets.py): cheap import, valid JSON output, argument checks."""

import argparse
import json
import subprocess
import sys
import time

import pytest

from vtrax.deploy.bench import nets as bench_nets


def parse(argv):
    parser = argparse.ArgumentParser()
    bench_nets.add_arguments(parser)
    return parser.parse_args(argv)


def test_module_import_does_not_import_jax():
    code = "import sys, vtrax.deploy.bench.nets; print('jax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"


def test_json_output_is_one_object_with_timings(capsys):
    assert bench_nets.run(parse(["--json", "--networks", "mlp", "--calls", "2", "--warmup", "0"])) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert result["benchmark"] == "nets" and result["device"].startswith("cpu")
    (mlp,) = result["results"]
    assert mlp["network"] == "mlp" and mlp["frames"] == 20 * 256
    assert mlp["num_params"] == (4 * 64 + 64) + (64 * 64 + 64) + (64 * 2 + 2) + (64 + 1)
    for label in ("forward", "forward_backward"):
        assert mlp[f"{label}_median_ms"] > 0 and 1 <= mlp[f"{label}_calls"] <= 2


def test_bad_arguments_are_rejected_with_a_message():
    with pytest.raises(SystemExit, match="--calls >= 1"):
        bench_nets.run(parse(["--calls", "0"]))


def test_timing_loop_respects_calls_and_time_budget(monkeypatch):
    clock = {"now": 0.0, "calls": 0}
    monkeypatch.setattr(time, "perf_counter", lambda: clock["now"])  # a fake clock: no real waiting

    def run(seconds_per_call, **kwargs):
        def call():
            clock["calls"] += 1
            clock["now"] += seconds_per_call
        clock["calls"] = 0
        median, timed_calls = bench_nets._median_seconds(call, **kwargs)
        return pytest.approx(median) == seconds_per_call, timed_calls, clock["calls"]

    assert run(0.01, calls=5, warmup=2, max_seconds=10.0) == (True, 5, 7)  # 2 warmup + 5 timed
    # Slower than the budget: the warmup call is kept as the single sample and nothing else runs.
    assert run(30.0, calls=20, warmup=1, max_seconds=10.0) == (True, 1, 1)
    assert run(4.0, calls=20, warmup=1, max_seconds=10.0) == (True, 3, 4)

"""`vtrax bench rl-ops` runs and prints one JSON object (no speed assertions here)."""

import argparse
import json
import subprocess
import sys

import pytest

from vtrax.deploy.bench import rl_ops as bench_rl_ops


def _parse(argv):
    parser = argparse.ArgumentParser()
    bench_rl_ops.add_arguments(parser)
    return parser.parse_args(argv)


def test_json_output_has_one_row_per_op_and_shape(capsys):
    assert bench_rl_ops.run(_parse(["--json", "--calls", "2", "--warmup", "1", "--shapes", "4x3,2x5"])) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["benchmark"] == "rl-ops" and result["calls"] == 2 and result["machine"]
    rows = {(r["op"], r["T"], r["B"]) for r in result["results"]}
    assert rows == {(op, t, b) for op in ("vtrace_td_error_and_advantage", "td_lambda") for t, b in ((4, 3), (2, 5))}
    assert all(r["median_us"] > 0 for r in result["results"])


def test_table_output_and_bad_shapes(capsys):
    assert bench_rl_ops.run(_parse(["--calls", "1", "--warmup", "0", "--shapes", "3x2"])) == 0
    out = capsys.readouterr().out
    assert "median µs/call" in out and "td_lambda" in out
    with pytest.raises(SystemExit, match=r"--shapes: '20by256' is not TxB like 20x256"):
        bench_rl_ops.run(_parse(["--shapes", "20by256"]))


def test_module_imports_no_jax_at_top_level():
    code = "import sys, vtrax.deploy.bench.rl_ops; print('jax' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"

"""`vtrax bench replay --json` runs end to end (real Reverb, a server process) and prints the issue's keys.

No speed assertions: the figures live in BENCHMARKS.md.
"""

import json
import subprocess
import sys

KEYS = ("write_env_steps_per_s", "baseline_write_env_steps_per_s", "sample_env_steps_per_s")


def test_json_has_write_baseline_and_sample_rates_per_shape():
    result = subprocess.run([sys.executable, "-m", "vtrax.deploy.cli", "bench", "replay", "--seconds", "0.2", "--json"],
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    for shape in ("cartpole", "atari"):
        for key in KEYS:
            assert report[shape][key] > 0, (shape, key, report[shape])
        assert report[shape]["write_ratio_vs_baseline"] > 0
        assert 0 <= report[shape]["dataset_close_s"] < 30
    assert report["config"]["num_envs"] == 16 and report["config"]["unroll_length"] == 20

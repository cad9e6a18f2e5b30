"""`vtrax bench e2e`: formatted figures, n/a for what a run did not reach, and no temporary directories left."""

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

BENCH = [sys.executable, "-m", "vtrax.deploy.cli", "bench", "e2e", "--seeds", "1"]


def _leftovers() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("vtrax-bench-e2e-*"))


def test_a_short_run_prints_formatted_figures_and_removes_its_directory():
    before = _leftovers()
    result = subprocess.run([*BENCH, "--max-seconds", "5", "--", "--num-actors", "1"], capture_output=True,
                            text=True, timeout=400)
    assert result.returncode == 0, result.stdout + result.stderr
    *table, final = result.stdout.strip().splitlines()
    assert final.startswith("0/1 seeds reached the target; median n/a; "), final
    assert "None" not in result.stdout and "n/a" in table[-1]
    assert _leftovers() - before == set()


@pytest.mark.parametrize("keep", [False, True])
def test_a_failed_seed_is_one_line_and_its_directory_is_kept_only_under_logdir(tmp_path, keep):
    before = _leftovers()
    logdir = ["--logdir", str(tmp_path)] if keep else []
    result = subprocess.run([*BENCH, *logdir, "--", "--learning-rate", "-1"], capture_output=True, text=True,
                            timeout=200)
    assert result.returncode == 1
    assert result.stderr.startswith("vtrax bench e2e: seed 0: `vtrax train` exited 2: vtrax train: bad configuration")
    assert result.stderr.count("\n") == 1 and result.stdout == ""
    assert _leftovers() - before == set()
    assert len(list(tmp_path.glob("vtrax-bench-e2e-seed0-*"))) == (1 if keep else 0)

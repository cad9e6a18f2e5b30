"""`vtrax train` setup errors that need no Ray (one line naming the problem and the fix, exit 2), and its final line."""

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("logdir, phrase", [
    ("a-file", "is a file, not a directory"),
    ("a-file/below", "cannot hold a run directory (Not a directory)"),
    ("/proc/vtrax-forbidden", "cannot hold a run directory (No such file or directory)"),
])
def test_a_logdir_that_cannot_hold_a_run_is_one_line_and_exit_2(tmp_path, logdir, phrase):
    (tmp_path / "a-file").write_text("kept\n")
    result = subprocess.run([sys.executable, "-m", "vtrax.deploy.cli", "train", "--logdir", logdir, "--quiet"],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 2
    assert f"--logdir {logdir} {phrase}; pass a directory you can write to" in result.stderr
    assert result.stderr.count("\n") == 1 and result.stdout == ""
    assert (tmp_path / "a-file").read_text() == "kept\n"


def test_the_final_line_says_n_a_for_a_return_not_measured_yet():
    from vtrax.deploy.commands.train import _summary_line

    summary = {"stopped_because": "max_seconds", "env_frames": 1234, "wall_seconds": 5.0, "frames_per_second": 246.8,
               "learner_updates": 0, "episode_return_mean_last100": None, "seconds_to_target": None}
    line = _summary_line(summary, Path("runs/CartPole-v1-x"))
    assert "return n/a; target not reached" in line and "None" not in line
    assert "return 21.5;" in _summary_line({**summary, "episode_return_mean_last100": 21.4567}, Path("r"))
